"""Fan-out: which retailers, BDMs or single run a report produces an output for."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import pandas as pd

from lib.contract import Target
from lib.errors import InputError

ALL = "all"


def fan_out(
    kind: str,
    accounts: pd.DataFrame,
    users: pd.DataFrame,
    *,
    disabled_retailers: Collection[str] = (),
    only: Sequence[str] = (),
) -> list[Target]:
    """The targets of a run.

    Args:
        kind: the declaration's fan-out: ``none``, ``retailer`` or ``bdm``.
        accounts: the snapshot's retailers.
        users: the snapshot's users.
        disabled_retailers: retailers switched off in the admin dashboard.
        only: restrict to these ids (``--target``); an id that is not a target is an error.

    Retailer targets are the ``Live`` retailers not disabled; BDM targets are active users
    owning at least one ``Live`` retailer; ``none`` is the single target ``all``.
    """
    if kind == "none":
        targets = [Target("none", ALL, "All retailers")]
    elif kind == "retailer":
        live = accounts[accounts["Retailer_Status__c"] == "Live"]
        live = live[~live["Id"].isin(list(disabled_retailers))].sort_values(["Name", "Id"])
        targets = [
            Target("retailer", r.Id, r.Name, _or_none(r.Primary_Contact_Email__c))
            for r in live.itertuples(index=False)
        ]
    elif kind == "bdm":
        owners = set(accounts.loc[accounts["Retailer_Status__c"] == "Live", "OwnerId"])
        bdms = users[users["IsActive"].astype(bool) & users["Id"].isin(owners)].sort_values(
            ["Name", "Id"]
        )
        targets = [
            Target("bdm", u.Id, u.Name, _or_none(u.Email)) for u in bdms.itertuples(index=False)
        ]
    else:
        raise InputError(f"unknown fan-out {kind!r}; expected none, retailer or bdm")
    if only:
        known = {t.id: t for t in targets}
        missing = [t for t in only if t not in known]
        if missing:
            raise InputError(
                f"--target {missing[0]} is not a {kind} target of this run "
                f"({len(known)} targets; see the snapshot's Live retailers and active BDMs)"
            )
        targets = [known[t] for t in dict.fromkeys(only)]
    return targets


def _or_none(value: object) -> str | None:
    return (
        None
        if value is None or (isinstance(value, float) and pd.isna(value)) or pd.isna(value)
        else str(value)
    )
