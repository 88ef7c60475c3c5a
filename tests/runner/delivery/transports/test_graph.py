"""The graph transport with the real msal and requests against local HTTPS stand-ins."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from lib.errors import ConfigError
from lib.settings import GraphSection
from lib.settings import load as load_settings
from runner.delivery import SENDING, Ledger, Mark, deliver
from runner.delivery.message import build_message, referenced_cids
from runner.delivery.transports.graph import (
    CHUNK,
    LARGE_ATTACHMENT,
    GraphSettings,
    GraphTransport,
    retry_after,
)
from tests.fixtures.mail import make_envelope
from tests.standins.graph import CLIENT_SECRET, SENDER


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger.open(f"sqlite:///{tmp_path / 'state.db'}")


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def transport(graph_standin, sleeps) -> GraphTransport:
    # Real msal, real requests; only the sleep between retries is recorded, not slept.
    return GraphTransport(
        GraphSettings.from_section(load_settings(env_file=None).graph), sleep=sleeps.append
    )


def envelopes(mail_target, n: int, *, docx_bytes: int = 0) -> list:
    return [
        make_envelope(
            mail_target(f"001GRAPH{i:010d}", name=f"Retailer {i}", docx_bytes=docx_bytes),
            recipients=(f"owner{i}@example.com", f"extra{i}@example.com"),
            sender=SENDER,
        )
        for i in range(n)
    ]


def test_sendmail_with_inline_images_and_one_token(mail_target, graph_standin, transport, ledger):
    envs = envelopes(mail_target, 3)
    results = deliver(envs, transport, ledger=ledger)
    assert [r["status"] for r in results] == ["sent"] * 6
    assert graph_standin.discovery_requests == 1
    assert graph_standin.token_requests == 1  # cached across every send
    assert graph_standin.calls("POST", "/sendMail") == 3
    assert len(graph_standin.sent) == 3

    rows = {r.target: r for r in ledger.history("retailer_weekly")}
    for sent, env in zip(graph_standin.sent, envs, strict=True):
        assert sent["mailbox"] == SENDER
        assert sent["subject"] == env.subject
        assert sent["to"] == list(env.recipients)
        assert sent["contentType"] == "HTML"
        assert sent["internetMessageId"] == rows[env.target_id].internet_message_id
        assert sent["headers"]["X-Broadsheet-Target"] == env.target_id
        inline = {a["contentId"]: a for a in sent["attachments"] if a["isInline"]}
        assert set(referenced_cids(sent["html"])) == set(inline) == {"img-1.png", "img-2.png"}
        for cid, attachment in inline.items():
            assert attachment["data"] == (env.html.parent / cid).read_bytes()
            assert attachment["contentType"] == "image/png"
        (report,) = [a for a in sent["attachments"] if not a["isInline"]]
        assert report["name"] == "retailer_weekly-2026-11-22.html"
        assert report["data"] == (env.html.parent / "report.html").read_bytes()
    assert results[0]["id"] == graph_standin.sent[0]["internetMessageId"]


def test_large_attachment_goes_through_an_upload_session(
    mail_target, graph_standin, transport, ledger
):
    (env,) = envelopes(mail_target, 1, docx_bytes=4 * 1024 * 1024)
    assert (env.html.parent / "report.docx").stat().st_size > LARGE_ATTACHMENT
    results = deliver([env], transport, ledger=ledger)
    assert [r["status"] for r in results] == ["sent", "sent"]
    assert graph_standin.calls("POST", "/sendMail") == 0
    assert (
        graph_standin.calls("POST", "/messages") == 1 + 3 + 1 + 1
    )  # draft, 3 small, session, send
    assert graph_standin.calls("POST", "/createUploadSession") == 1
    assert graph_standin.put_sizes == [CHUNK, 4 * 1024 * 1024 - CHUNK]
    assert graph_standin.calls("POST", "/send") == 1
    assert graph_standin.drafts == {}  # the draft became the sent message

    (sent,) = graph_standin.sent
    by_name = {a["name"]: a for a in sent["attachments"]}
    docx = by_name["retailer_weekly-2026-11-22.docx"]
    assert docx["via"] == "upload" and not docx["isInline"]
    assert docx["data"] == (env.html.parent / "report.docx").read_bytes()
    assert docx["contentType"].endswith("wordprocessingml.document")
    assert by_name["img-1.png"]["isInline"] and by_name["img-1.png"]["contentId"] == "img-1.png"
    assert sent["internetMessageId"].startswith("<")


def test_429_and_503_honour_retry_after(mail_target, graph_standin, transport, ledger, sleeps):
    graph_standin.fail("POST", "/sendMail", 429, retry_after="7")
    graph_standin.fail("POST", "/sendMail", 503, retry_after="2")
    results = deliver(envelopes(mail_target, 1), transport, ledger=ledger)
    assert [r["status"] for r in results] == ["sent", "sent"]
    assert sleeps == [7.0, 2.0]
    assert graph_standin.calls("POST", "/sendMail") == 3
    assert len(graph_standin.sent) == 1


def test_throttled_upload_chunk_is_retried(mail_target, graph_standin, transport, ledger, sleeps):
    graph_standin.fail("PUT", "/upload/", 503, retry_after="3")
    (env,) = envelopes(mail_target, 1, docx_bytes=LARGE_ATTACHMENT + 1000)
    assert [r["status"] for r in deliver([env], transport, ledger=ledger)] == ["sent", "sent"]
    assert sleeps == [3.0]
    docx = [a for a in graph_standin.sent[0]["attachments"] if a["name"].endswith(".docx")][0]
    assert docx["data"] == (env.html.parent / "report.docx").read_bytes()


def test_at_most_four_requests_in_flight_per_mailbox(mail_target, graph_standin, ledger):
    graph_standin.delay = 0.15
    envs = envelopes(mail_target, 10)
    transport = GraphTransport(GraphSettings.from_section(load_settings(env_file=None).graph))
    results = deliver(envs, transport, ledger=ledger, workers=10)
    assert {r["status"] for r in results} == {"sent"}
    assert graph_standin.max_in_flight[SENDER] == 4
    assert graph_standin.token_requests == 1  # ten threads, one token request


def test_a_revoked_token_is_replaced_once(mail_target, graph_standin, transport, ledger):
    first, second = envelopes(mail_target, 2)
    deliver([first], transport, ledger=ledger)
    graph_standin.tokens.clear()  # the tenant revoked it
    assert [r["status"] for r in deliver([second], transport, ledger=ledger)] == ["sent", "sent"]
    assert graph_standin.token_requests == 2


def test_wrong_secret_fails_without_leaking(
    mail_target, graph_standin, ledger, monkeypatch, caplog
):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("GRAPH_CLIENT_SECRET", "not-the-secret-123")
    transport = GraphTransport(GraphSettings.from_section(load_settings(env_file=None).graph))
    results = deliver(envelopes(mail_target, 1), transport, ledger=ledger)
    assert {r["status"] for r in results} == {"failed"}
    assert "Graph token refused: invalid_client" in results[0]["error"]
    assert "not-the-secret-123" not in caplog.text + str(results)
    assert CLIENT_SECRET not in caplog.text
    assert graph_standin.sent == []


def test_graph_refusal_is_a_definite_failure(mail_target, graph_standin, transport, ledger):
    graph_standin.fail("POST", "/sendMail", 400, code="ErrorInvalidRecipients")
    results = deliver(envelopes(mail_target, 1), transport, ledger=ledger)
    assert {r["status"] for r in results} == {"failed"}
    assert "400 ErrorInvalidRecipients" in results[0]["error"]
    assert {r.status for r in ledger.history("retailer_weekly")} == {"failed"}


def test_sent_items_settle_an_interrupted_run(mail_target, graph_standin, transport, ledger):
    delivered, lost = envelopes(mail_target, 2)
    # Run 1 died after Graph took `delivered` and before the ledger said so, and before
    # `lost` was sent at all: both rows say "sending".
    for env in (delivered, lost):
        msg = build_message(env)
        mid = str(msg["Message-ID"])
        ledger.mark(
            env.report, env.as_of, env.target_id, env.recipients, Mark(SENDING, "graph", mid, mid)
        )
        if env is delivered:
            transport.send(msg, env)
    assert len(graph_standin.sent) == 1

    results = deliver([delivered, lost], transport, ledger=ledger)
    assert [r["status"] for r in results] == ["skipped-already-sent"] * 2 + ["sent"] * 2
    assert len(graph_standin.sent) == 2
    rows = {r.target: r for r in ledger.history("retailer_weekly")}
    assert graph_standin.sent[1]["internetMessageId"] == rows[lost.target_id].internet_message_id
    assert {r.status for r in rows.values()} == {"sent"}


def test_server_error_on_the_final_request_is_uncertain_then_resolved(
    mail_target, graph_standin, transport, ledger
):
    graph_standin.fail("POST", "/sendMail", 500)
    (env,) = envelopes(mail_target, 1)
    first = deliver([env], transport, ledger=ledger)
    assert {r["status"] for r in first} == {"failed"}
    assert first[0]["error"].startswith("uncertain: ")
    row = ledger.history("retailer_weekly")[0]
    assert row.status == "uncertain"

    second = deliver([env], transport, ledger=ledger)  # Sent Items says no: send again
    assert [r["status"] for r in second] == ["sent", "sent"]
    assert graph_standin.calls("GET", "/mailFolders/sentitems/messages") == 1
    assert graph_standin.sent[0]["internetMessageId"] == row.internet_message_id


def test_test_send_goes_to_the_test_address_only(mail_target, graph_standin, transport, ledger):
    env = envelopes(mail_target, 1)[0].for_test("qa@example.com")
    (row,) = deliver([env], transport, ledger=ledger)
    assert row["status"] == "sent"
    assert graph_standin.sent[0]["to"] == ["qa@example.com"]
    assert graph_standin.sent[0]["subject"].startswith("[TEST] ")
    assert ledger.history("retailer_weekly") == []


def graph_section(variables: dict[str, str]) -> GraphSection:
    """The ``graph`` section as ``GRAPH_*`` variables would set it."""
    return GraphSection.model_validate(
        {name.removeprefix("GRAPH_").lower(): value for name, value in variables.items()}
    )


def test_settings_from_environment() -> None:
    with pytest.raises(ConfigError, match="GRAPH_CLIENT_SECRET, GRAPH_SENDER"):
        GraphSettings.from_section(graph_section({"GRAPH_TENANT_ID": "t", "GRAPH_CLIENT_ID": "c"}))
    s = GraphSettings.from_section(
        graph_section(
            {
                "GRAPH_TENANT_ID": "t",
                "GRAPH_CLIENT_ID": "c",
                "GRAPH_CLIENT_SECRET": "shh-secret",
                "GRAPH_SENDER": "m@example.com",
            }
        )
    )
    assert s.authority_url == "https://login.microsoftonline.com/t"
    assert s.scope == "https://graph.microsoft.com/.default"
    assert "shh-secret" not in repr(s)
    assert (
        replace(s, authority="https://login.example/other").authority_url
        == "https://login.example/other"
    )


def test_retry_after_parsing() -> None:
    assert retry_after("12", 0) == 12.0
    assert retry_after(None, 3) == 8.0
    assert retry_after("9999", 0) == 120.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 0) == 0.0  # in the past
    assert 0 < retry_after("garbage", 1) <= 2.0
    assert date.today()  # keeps the import honest
