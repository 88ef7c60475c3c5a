"""Recipient addresses, checked before anything is sent.

Salesforce's ``Primary_Contact_Email__c`` may be null or malformed (domain §2): such an
address is skipped and reported in ``run.json``, never a crash. Only the syntax is
checked (``check_deliverability=False``): a DNS lookup per retailer would make a run
depend on the network for no gain, and the mail server reports bounces anyway.

Addresses come out as they go on the wire: an internationalised domain in its ASCII
(IDNA) form, which every server takes; a non-ASCII local part stays as it is and needs a
server that offers SMTPUTF8 (the smtp transport says so when it does not).
"""

from __future__ import annotations

from collections.abc import Iterable

from email_validator import EmailNotValidError, validate_email


def valid_addresses(candidates: Iterable[str | None]) -> tuple[list[str], list[dict]]:
    """Split candidate addresses into the usable and the skipped.

    Args:
        candidates: addresses as found (None or blank for a missing one).

    Returns:
        ``(valid, skipped)``: the normalised valid addresses in their first order, each
        once (compared case-insensitively); and ``[{"address", "reason"}]`` for every
        candidate left out, ``reason`` being ``missing``, ``duplicate`` or the
        validator's explanation.
    """
    valid: list[str] = []
    skipped: list[dict] = []
    seen: set[str] = set()
    for candidate in candidates:
        if candidate is None or not str(candidate).strip():
            skipped.append({"address": candidate, "reason": "missing"})
            continue
        raw = str(candidate).strip()
        try:
            address = wire_address(raw)
        except EmailNotValidError as err:
            skipped.append({"address": raw, "reason": str(err)})
            continue
        if address.lower() in seen:
            skipped.append({"address": raw, "reason": "duplicate"})
            continue
        seen.add(address.lower())
        valid.append(address)
    return valid, skipped


def wire_address(address: str) -> str:
    """``address`` checked and normalised as it is sent: ``local@ascii-domain``.

    Raises:
        EmailNotValidError: not an address, with the reason.
    """
    checked = validate_email(address, check_deliverability=False)
    return f"{checked.local_part}@{checked.ascii_domain}"
