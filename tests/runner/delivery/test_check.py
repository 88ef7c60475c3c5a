"""The pre-send check: a message that would break on the way is refused, recorded and alerted."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from lib.settings import load as load_settings
from runner.delivery import Ledger, OutboxTransport, deliver, delivery_failures, send_alert
from runner.delivery.check import MAX_HTML_BYTES, problems, size_limits
from runner.delivery.message import build_message
from runner.delivery.transports.base import SizeLimits
from runner.delivery.transports.graph import GraphSettings, GraphTransport
from runner.delivery.transports.smtp import SMTPTransport
from tests.fixtures.mail import make_envelope

FIVE_MB = 5 * 1024 * 1024


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger.open(f"sqlite:///{tmp_path / 'state.db'}")


@pytest.fixture
def outbox(tmp_path: Path) -> OutboxTransport:
    return OutboxTransport(tmp_path / "outputs" / "outbox")


def _with_html(directory: Path, body: str) -> Path:
    html = directory / "email.html"
    html.write_text(f"<!doctype html><html><body>{body}</body></html>", encoding="utf-8")
    return directory


def test_a_good_message_passes(mail_target):
    msg = build_message(make_envelope(mail_target()))
    assert problems(msg) == []
    assert (
        problems(msg, size_limits(GraphTransport(GraphSettings("t", "c", "s", "a@x.example"))))
        == []
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('<img src="data:image/png;base64,iVBORw0KGgo=" alt="chart">', "data: image"),
        ('<img src="https://cdn.example.com/pixel.png" alt="">', "remote image"),
        ("<td style=\"background:url('//cdn.example.com/bg.png')\">x</td>", "remote image"),
        ("<script>alert(1)</script><p>hi</p>", "<script>"),
    ],
)
def test_unsafe_html_is_found(mail_target, body, expected):
    d = _with_html(mail_target(), body)
    found = problems(build_message(make_envelope(d)))
    assert len(found) == 1 and expected in found[0]


def test_a_cid_without_its_part_is_found(mail_target):
    msg = build_message(make_envelope(mail_target()))
    html_part = msg.get_body(preferencelist=("html",))
    related = next(p for p in msg.walk() if p.get_content_type() == "multipart/related")
    # Drop the image part the HTML still names.
    related.set_payload([p for p in related.get_payload() if p.get("Content-ID") != "<img-2.png>"])
    assert html_part is not None
    assert problems(msg) == ["email.html names cid:img-2.png but the message has no such part"]


def test_a_5mb_body_is_found_against_every_limit(mail_target):
    d = _with_html(mail_target(), "<p>" + "x" * FIVE_MB + "</p>")
    msg = build_message(make_envelope(d))
    graph = size_limits(GraphTransport(GraphSettings("t", "c", "s", "a@x.example")))
    found = problems(msg, graph)
    assert f"under {MAX_HTML_BYTES // 1024} KB" in found[0] and "Gmail" in found[0]
    assert "over the 4.0 MB the transport takes in one request" in found[1]
    found = problems(msg, SizeLimits(message=1_000_000))
    assert "over the transport's limit of 977 KB" in found[1]


def test_subject_and_recipients(mail_target):
    env = make_envelope(mail_target())
    assert problems(build_message(replace(env, subject="  "))) == ["the message has no subject"]
    (found,) = problems(build_message(replace(env, recipients=("not-an-address",))))
    assert found.startswith("recipient 'not-an-address' is not a valid address")


def test_refused_messages_are_not_sent_recorded_failed_and_alerted(
    mail_target, ledger, outbox, tmp_path
):
    good = make_envelope(mail_target("001GOOD"))
    data_image = make_envelope(
        _with_html(mail_target("001DATA"), '<img src="data:image/png;base64,AAAA" alt="x">')
    )
    missing_cid = make_envelope(
        _with_html(mail_target("001CID"), '<img src="cid:gone.png" alt="chart">')
    )
    huge = make_envelope(_with_html(mail_target("001HUGE"), "<p>" + "x" * FIVE_MB + "</p>"))
    rows = deliver([good, data_image, missing_cid, huge], outbox, ledger=ledger)
    by_target = {r["target"]: r for r in rows}
    assert by_target["001GOOD"]["status"] == "sent"
    for target in ("001DATA", "001CID", "001HUGE"):
        assert by_target[target]["status"] == "failed", target
    assert "pre-send check" in by_target["001DATA"]["error"]
    assert "data: image" in by_target["001DATA"]["error"]
    assert "cid:gone.png" in by_target["001CID"]["error"]
    assert "Gmail clips" in by_target["001HUGE"]["error"]
    sent = sorted(p.name for p in outbox.directory.glob("*.eml"))
    assert len(sent) == 1 and "001GOOD" in sent[0]
    failed = ledger.rows("retailer_weekly", good.as_of, "001DATA")
    assert {r.status for r in failed.values()} == {"failed"}

    alerts = send_alert(
        delivery_failures(rows),
        report="retailer_weekly",
        as_of=good.as_of,
        admins=["ops@larkspur.example"],
        transport=outbox,
        sender="reports@larkspur.example",
        run_dir=tmp_path,
    )
    assert [a["status"] for a in alerts] == ["sent"]
    text = (tmp_path / "alert.txt").read_text()
    for target in ("001DATA", "001CID", "001HUGE"):
        assert target in text
    assert "data: image" in text and "cid:gone.png" in text and "Gmail clips" in text


def test_smtp_size_from_ehlo_refuses_before_sending(
    mail_target, ledger, smtp_small_server, monkeypatch
):
    for k, v in smtp_small_server.env().items():
        monkeypatch.setenv(k, v)
    transport = SMTPTransport.from_settings(load_settings(env_file=None))
    assert size_limits(transport) == SizeLimits(message=200_000)
    small = make_envelope(mail_target("001SMALL"))
    large = make_envelope(mail_target("001LARGE", docx_bytes=300_000))
    rows = deliver([small, large], transport, ledger=ledger)
    assert [r["status"] for r in rows] == ["sent", "failed"]
    assert "over the transport's limit of 195 KB" in rows[1]["error"]
    assert len(smtp_small_server.messages) == 1  # the large one never reached the server
    assert smtp_small_server.handler.mail_commands == 1


def test_only_image_references_name_a_cid():
    from runner.delivery.message import referenced_cids

    html = (
        '<img src="cid:a.png" alt=""><td background=\'cid:b.png\'></td>'
        '<div style="background:url(cid:c.png)"></div><p>error: names cid:d.png</p>'
    )
    assert referenced_cids(html) == ["a.png", "b.png", "c.png"]
