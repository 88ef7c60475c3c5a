"""What every transport is and may raise; the one module transports share.

A transport imports this and ``runner.delivery.message``, nothing else of delivery: like
papermill's I/O backends, transports are leaves, and ``runner.delivery.send`` registers them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol, runtime_checkable

from lib.errors import DeliveryError
from runner.delivery.message import Envelope


@runtime_checkable
class Transport(Protocol):
    """Hands a built message to something that delivers it."""

    name: str

    def send(self, msg: EmailMessage, env: Envelope) -> str:
        """Deliver ``msg``; return the delivery id (file path, SMTP queue id, Graph id)."""
        ...


@dataclass(frozen=True)
class SizeLimits:
    """How large a message a transport can take (None: no limit it knows of).

    A transport may offer ``size_limits() -> SizeLimits``; the pre-send check
    (``runner.delivery.check``) refuses a message beyond them before the transport sees it.

    Attributes:
        message: the whole message as sent, in bytes (SMTP's ``SIZE``).
        body: the HTML body, which must travel in one request (Graph's 4 MB).
        part: any one attachment or inline image (Graph's upload-session maximum).
    """

    message: int | None = None
    body: int | None = None
    part: int | None = None


class UncertainDelivery(DeliveryError):
    """The connection broke while the message was being handed over: it may have arrived."""


class PartiallyRefused(DeliveryError):
    """The transport accepted the message for some recipients and refused the others."""

    def __init__(self, delivery_id: str, refused: Mapping[str, str]):
        self.delivery_id = delivery_id
        self.refused = dict(refused)
        super().__init__(f"refused {len(self.refused)} recipient(s): {', '.join(self.refused)}")
