"""Recipient addresses, checked before anything is sent.

Salesforce's ``Primary_Contact_Email__c`` may be null or malformed (domain §2): such an
address is skipped and reported in ``run.json``, never a crash. Only the syntax is
checked (``check_deliverability=False``): a DNS lookup per retailer would make a run
depend on the network for no gain, and the mail server reports bounces anyway.
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
            address = validate_email(raw, check_deliverability=False).normalized
        except EmailNotValidError as err:
            skipped.append({"address": raw, "reason": str(err)})
            continue
        if address.lower() in seen:
            skipped.append({"address": raw, "reason": "duplicate"})
            continue
        seen.add(address.lower())
        valid.append(address)
    return valid, skipped
