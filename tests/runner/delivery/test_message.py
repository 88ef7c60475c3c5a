"""Messages built from real output directories, and recipient validation."""

from __future__ import annotations

import re
from dataclasses import replace
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from lib.errors import DeliveryError
from lib.settings import load as load_settings
from runner.delivery.message import (
    build_message,
    default_sender,
    html_to_text,
    message_parts,
    referenced_cids,
)
from runner.delivery.recipients import valid_addresses
from tests.fixtures.mail import make_envelope


def structure(part, depth: int = 0) -> list[str]:
    """The MIME tree as indented content types."""
    out = ["  " * depth + part.get_content_type()]
    if part.is_multipart():
        for sub in part.iter_parts():
            out += structure(sub, depth + 1)
    return out


def reparsed(msg):
    """The message as a receiver sees it: serialised for SMTP and parsed again."""
    return BytesParser(policy=policy.default).parsebytes(msg.as_bytes())


def test_structure_is_mixed_alternative_related(mail_target) -> None:
    d = mail_target(docx_bytes=2048)
    msg = reparsed(build_message(make_envelope(d)))
    assert structure(msg) == [
        "multipart/mixed",
        "  multipart/alternative",
        "    text/plain",
        "    multipart/related",
        "      text/html",
        "      image/png",
        "      image/png",
        "  text/html",
        "  application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ]


def test_every_cid_resolves_and_attachments_are_byte_identical(mail_target) -> None:
    d = mail_target(docx_bytes=4096)
    msg = reparsed(build_message(make_envelope(d)))
    parts = message_parts(msg)
    assert referenced_cids(parts.html) == ["img-1.png", "img-2.png"]
    inline = {p.content_id: p for p in parts.inline}
    assert set(inline) == {"img-1.png", "img-2.png"}  # img-unused.png is not carried
    assert inline["img-1.png"].data == (d / "img-1.png").read_bytes()
    assert inline["img-2.png"].data == (d / "img-2.png").read_bytes()
    files = {p.filename: p.data for p in parts.attachments}
    assert files == {
        "retailer_weekly-2026-11-22.html": (d / "report.html").read_bytes(),
        "retailer_weekly-2026-11-22.docx": (d / "report.docx").read_bytes(),
    }
    assert parts.text.replace("\r\n", "\n") == (d / "email.txt").read_text()
    assert "x" * 1500 in parts.html  # a long line survives quoted-printable


def test_headers_recipients_and_a_seven_bit_message(mail_target) -> None:
    env = make_envelope(
        mail_target(name="Café Noël & Fils"), recipients=("a@example.test", "b@example.test")
    )
    msg = build_message(env)
    wire = msg.as_bytes()
    assert wire.isascii()  # any relay takes it, 8BITMIME or not
    back = reparsed(msg)
    assert back["Subject"] == env.subject
    assert back["To"] == "a@example.test, b@example.test"
    assert back["From"] == "Broadsheet <reports@example.test>"
    assert back["X-Broadsheet-Target"] == env.target_id
    assert back["Auto-Submitted"] == "auto-generated"
    assert re.fullmatch(r"<[^<>@]+@example\.test>", back["Message-ID"])


def test_test_sends_are_prefixed_once(mail_target) -> None:
    env = make_envelope(mail_target()).for_test("qa@example.test")
    assert env.recipients == ("qa@example.test",) and env.test
    assert build_message(env)["Subject"] == "[TEST] " + make_envelope(mail_target()).subject
    again = replace(env, subject="[TEST] already")
    assert build_message(again)["Subject"] == "[TEST] already"


def test_message_id_can_be_reused(mail_target) -> None:
    env = make_envelope(mail_target())
    assert (
        build_message(env, message_id="<fixed@example.test>")["Message-ID"]
        == "<fixed@example.test>"
    )
    assert build_message(env)["Message-ID"] != build_message(env)["Message-ID"]


def test_missing_image_names_the_file_and_cid(mail_target) -> None:
    d = mail_target()
    (d / "img-2.png").unlink()
    with pytest.raises(DeliveryError, match=r"cid:img-2\.png"):
        build_message(make_envelope(d))


def test_cid_cannot_reach_outside_the_directory(mail_target) -> None:
    d = mail_target()
    (d / "email.html").write_text('<img src="cid:../secret.png">')
    with pytest.raises(DeliveryError, match="not a plain file name"):
        build_message(make_envelope(d))


def test_missing_attachment_is_a_delivery_error(mail_target) -> None:
    d = mail_target()
    env = replace(make_envelope(d), attachments=(d / "report.docx",))
    with pytest.raises(DeliveryError, match="report.docx"):
        build_message(env)


def test_plain_text_is_derived_when_email_txt_is_absent(mail_target) -> None:
    d = mail_target()
    msg = build_message(replace(make_envelope(d), text=None))
    text = message_parts(msg).text
    assert "Weekly report for Harbour & Sons" in text
    assert "color" not in text  # the <style> block is not text


def test_html_to_text_keeps_blocks_apart() -> None:
    assert html_to_text("<p>one</p><p>two&nbsp;&amp; three</p><script>x()</script>") == (
        "one\n\ntwo & three\n"
    )


def test_default_sender_prefers_the_transport_mailbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAIL_FROM", raising=False)
    monkeypatch.delenv("GRAPH_SENDER", raising=False)
    assert default_sender(load_settings(env_file=None)) == "broadsheet@localhost"
    monkeypatch.setenv("MAIL_FROM", "Reports <mail@example.test>")
    monkeypatch.setenv("GRAPH_SENDER", "graph@example.test")
    settings = load_settings(env_file=None)
    assert default_sender(settings, "smtp") == "Reports <mail@example.test>"
    assert default_sender(settings, "graph") == "graph@example.test"


def test_valid_addresses_skips_and_reports() -> None:
    valid, skipped = valid_addresses(
        [
            "owner@harbour.example",
            None,
            "  ",
            "not-an-address",
            "two@@example.test",
            "Owner@Harbour.example",
            " extra@harbour.example ",
            "bob@münchen.example",
        ]
    )
    # An internationalised domain comes out as it goes on the wire (IDNA).
    assert valid == ["owner@harbour.example", "extra@harbour.example", "bob@xn--mnchen-3ya.example"]
    reasons = [(s["address"], s["reason"]) for s in skipped]
    assert reasons[0] == (None, "missing")
    assert reasons[1] == ("  ", "missing")
    assert reasons[2][0] == "not-an-address" and "@" in reasons[2][1]
    assert reasons[3][0] == "two@@example.test"
    assert reasons[4] == ("Owner@Harbour.example", "duplicate")
    assert len(skipped) == 5


def test_attachment_names_are_readable(mail_target) -> None:
    d = mail_target()
    extra = d / "appendix.csv"
    extra.write_text("a,b\n")
    env = replace(make_envelope(d), attachments=(d / "report.html", extra))
    names = [p.filename for p in message_parts(build_message(env)).attachments]
    assert names == ["retailer_weekly-2026-11-22.html", "retailer_weekly-2026-11-22-appendix.csv"]
    assert isinstance(Path(d / "report.html"), Path)
