"""Delivery: who gets which message, and getting it to them exactly once.

- ``plan``: recipients and envelopes of a run (declarations, admin lists, opt-outs), and
  :func:`deliver_run`, what the runner calls after rendering.
- ``message``: MIME messages (HTML with ``cid:`` images, the plain-text alternative).
- ``send``: the registry of transports and :func:`deliver`, exactly once through the
  ``ledger``; ``transport``: handing one message to a transport and recording the outcome.
- ``transports/``: the transports themselves (outbox, SMTP, Graph). Like papermill's I/O
  backends they are leaves: they import ``message`` and ``transport``, never this package
  or each other; ``send`` registers them.
- ``alert``: the failure alert to the admin list.
"""

from runner.delivery.alert import delivery_failures, send_alert
from runner.delivery.ledger import FAILED, SENDING, SENT, UNCERTAIN, Ledger, Mark, ledger_key
from runner.delivery.plan import deliver_run, envelope_for, recipients_for
from runner.delivery.send import TRANSPORTS, deliver, make_transport, register_builtin_transports
from runner.delivery.transport import safe_error
from runner.delivery.transports.base import PartiallyRefused, Transport, UncertainDelivery
from runner.delivery.transports.outbox import OutboxTransport

__all__ = [
    "FAILED",
    "SENDING",
    "SENT",
    "TRANSPORTS",
    "UNCERTAIN",
    "Ledger",
    "Mark",
    "OutboxTransport",
    "PartiallyRefused",
    "Transport",
    "UncertainDelivery",
    "deliver",
    "deliver_run",
    "delivery_failures",
    "envelope_for",
    "ledger_key",
    "make_transport",
    "recipients_for",
    "register_builtin_transports",
    "safe_error",
    "send_alert",
]
