"""The outbox transport: each message an ``.eml`` file, written atomically and durably."""

from __future__ import annotations

import hashlib
import re
from email.message import EmailMessage
from pathlib import Path

from lib.settings import Settings
from runner.delivery.message import Envelope, message_recipients, wire_bytes
from runner.outputs import sweep_temporaries, write_atomic


class OutboxTransport:
    """``.eml`` files in ``<outputs>/outbox/``, openable by any mail client.

    The name is ``<report>_<as_of>_<target>[_test]_<hash>.eml``, the hash over the
    recipients, so each recipient list of each target has one file and a rerun overwrites
    rather than piles up.
    """

    name = "outbox"

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        # A run killed mid-write (kill -9) left a temporary here; the next run tidies up.
        sweep_temporaries(self.directory)

    @classmethod
    def from_settings(cls, settings: Settings) -> OutboxTransport:
        """The outbox under the outputs directory."""
        return cls(settings.outputs / "outbox")

    def path_for(self, msg: EmailMessage, env: Envelope) -> Path:
        """Where ``msg`` is (or will be) written."""
        recipients = ",".join(sorted(r.lower() for r in message_recipients(msg)))
        digest = hashlib.sha256(recipients.encode("utf-8")).hexdigest()[:10]
        parts = [env.report, env.as_of.isoformat(), env.target_id] + (["test"] if env.test else [])
        stem = "_".join(re.sub(r"[^A-Za-z0-9._-]+", "-", p) for p in parts)
        return self.directory / f"{stem}_{digest}.eml"

    def pending_id(self, msg: EmailMessage, env: Envelope) -> str:
        return str(self.path_for(msg, env))

    def send(self, msg: EmailMessage, env: Envelope) -> str:
        path = self.path_for(msg, env)
        write_durably(path, wire_bytes(msg))
        return str(path)

    def was_accepted(self, pending_id: str) -> bool:
        return Path(pending_id).is_file()

    def close(self) -> None:
        """Nothing to release."""


def write_durably(path: Path, data: bytes) -> None:
    # Atomic and fsynced: the file's existence is the ledger's evidence after a crash, so
    # it must never exist half-written, even after a power cut.
    write_atomic(path, data, durable=True)
