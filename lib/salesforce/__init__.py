"""Extract Broadsheet's three tables from Salesforce (domain §2) with few API calls.

One extraction serves every report of a run: users and accounts in full (a page or two),
applications in full or, given an earlier snapshot of the same org, only those changed
since it. Pages are fetched one at a time (``query``, then ``query_more`` on
``nextRecordsUrl``, the walk ``query_all_iter`` does) so that a retry resumes at the page
that failed, and each page is converted to a small typed frame straight away so memory
stays bounded by the result, not by the JSON.

Configuration comes from ``SALESFORCE_*`` variables (environment or ``.env``); secrets
are held as ``SecretStr`` and never logged.

Typical use (what ``runner/extract.py`` does for ``--source salesforce``)::

    settings = lib.settings.load().salesforce          # the entry point reads it once
    root = snapshot.default_dir(outputs, "salesforce", as_of).parent
    previous = None if full else previous_snapshot(root, as_of)
    tables, api = extract_tables(settings, as_of=as_of, previous=previous, full=full)
    snapshot.write(tables, out, source="salesforce", as_of=as_of, extra={"api": api})

How to sign in (JWT bearer, client credentials, password or a fixed token) and the OAuth
token grants are in :mod:`lib.salesforce.auth` (``auth.method(settings)`` says which one is
configured); the session and its retries in :mod:`lib.salesforce.client`; the fields and
their types in :mod:`lib.salesforce.schema`. This module is the public API and re-exports
their public names.
"""

from lib.salesforce import auth
from lib.salesforce.client import USAGE_WARNING, Client, RetryPolicy, connect
from lib.salesforce.extract import (
    BATCH_SIZE,
    LATER_EVENTS,
    OVERLAP,
    SOURCE,
    count,
    cut_at,
    extract_tables,
    fetch,
    previous_snapshot,
    soql,
)
from lib.salesforce.schema import PICKLISTS, TABLES

__all__ = [
    "BATCH_SIZE",
    "Client",
    "LATER_EVENTS",
    "OVERLAP",
    "PICKLISTS",
    "RetryPolicy",
    "SOURCE",
    "TABLES",
    "USAGE_WARNING",
    "auth",
    "connect",
    "count",
    "cut_at",
    "extract_tables",
    "fetch",
    "previous_snapshot",
    "soql",
]
