"""Internationalised addresses: IDNA domains in ASCII on the wire; a non-ASCII local part
sent with SMTPUTF8 when the server offers it, refused with a clear reason when not."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.settings import load as load_settings
from runner.delivery import Ledger, OutboxTransport, deliver
from runner.delivery.recipients import valid_addresses
from runner.delivery.transports.smtp import SMTPTransport
from tests.fixtures.mail import make_envelope

IDN = "john@bücher.example"
IDN_ASCII = "john@xn--bcher-kva.example"
EAI = "jöhn@bücher.example"
EAI_WIRE = "jöhn@xn--bcher-kva.example"


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger.open(f"sqlite:///{tmp_path / 'state.db'}")


def envelope(mail_target, *addresses: str):
    valid, skipped = valid_addresses(addresses)
    assert skipped == []
    return make_envelope(mail_target(), recipients=tuple(valid))


def smtp(server, monkeypatch) -> SMTPTransport:
    for k, v in server.env().items():
        monkeypatch.setenv(k, v)
    return SMTPTransport.from_settings(load_settings(env_file=None))


def test_recipients_are_normalised_to_what_goes_on_the_wire():
    valid, _ = valid_addresses([IDN, EAI, "Owner@Example.COM"])
    assert valid == [IDN_ASCII, EAI_WIRE, "Owner@example.com"]


def test_an_idn_domain_goes_out_in_ascii_to_any_server(
    mail_target, ledger, smtp_ascii_server, monkeypatch
):
    # Finding 9: the domain was written as an encoded word (john@=?utf-8?q?b=C3=BCcher?=…).
    env = envelope(mail_target, IDN)
    results = deliver([env], smtp(smtp_ascii_server, monkeypatch), ledger=ledger)
    assert [(r["recipient"], r["status"]) for r in results] == [(IDN_ASCII, "sent")]
    (received,) = smtp_ascii_server.messages
    assert received.rcpt_tos == [IDN_ASCII] and "SMTPUTF8" not in received.mail_options
    assert received.data.isascii() and b"=?utf-8?" not in received.data.split(b"\r\n\r\n")[0]
    assert received.message["To"] == IDN_ASCII


def test_a_non_ascii_local_part_goes_with_smtputf8_when_offered(
    mail_target, ledger, smtp_server, monkeypatch
):
    # Finding 9: jöhn@… was written as =?utf-8?q?j=C3=B6hn?=@…, which no server delivers.
    env = envelope(mail_target, EAI, IDN)
    results = deliver([env], smtp(smtp_server, monkeypatch), ledger=ledger)
    assert [r["status"] for r in results] == ["sent", "sent"]
    (received,) = smtp_server.messages
    assert received.rcpt_tos == [EAI_WIRE, IDN_ASCII]
    assert "SMTPUTF8" in received.mail_options
    headers = received.data.split(b"\r\n\r\n")[0]
    assert f"To: {EAI_WIRE}, {IDN_ASCII}".encode() in headers and b"=?utf-8?" not in headers


def test_a_non_ascii_local_part_is_refused_clearly_when_smtputf8_is_not_offered(
    mail_target, ledger, smtp_ascii_server, monkeypatch
):
    transport = smtp(smtp_ascii_server, monkeypatch)
    (result,) = deliver([envelope(mail_target, EAI)], transport, ledger=ledger)
    assert result["status"] == "failed"
    assert "SMTPUTF8" in result["error"] and EAI_WIRE in result["error"]
    assert smtp_ascii_server.messages == []


def test_the_outbox_writes_international_addresses_as_they_are_sent(mail_target, ledger, tmp_path):
    outbox = OutboxTransport(tmp_path / "outbox")
    deliver([envelope(mail_target, EAI, IDN)], outbox, ledger=ledger)
    (path,) = (tmp_path / "outbox").glob("*.eml")
    headers = path.read_bytes().split(b"\r\n\r\n")[0]
    assert f"To: {EAI_WIRE}, {IDN_ASCII}".encode() in headers and b"=?utf-8?" not in headers
    ascii_outbox = OutboxTransport(tmp_path / "ascii")
    deliver([envelope(mail_target, IDN)], ascii_outbox, ledger=ledger, resend=True)
    (ascii_path,) = (tmp_path / "ascii").glob("*.eml")
    assert ascii_path.read_bytes().isascii()
