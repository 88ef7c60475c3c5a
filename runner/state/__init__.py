"""The state database, owned by the runner so it works without the web app.

- ``models``: every table (the delivery ledger, the admin's toggles, lists, retailers,
  discoveries and test sends) on one declarative ``Base``.
- ``database``: the engine for a URL (SQLite or PostgreSQL) and :func:`upgrade`, which
  applies the Alembic revisions in ``migrations/``.
- ``view``: :class:`RunnerView`, the admin's choices as the runner honours them.

``admin/`` writes the admin's tables through ``admin.store``; nothing here imports it.
"""
