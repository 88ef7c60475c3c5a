"""What the runner reads from the admin (``runner_view``), and the migration that made it."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import inspect, select, text

from admin.store import AddressError, Store, clean_addresses
from runner.state.database import engine_for, upgrade
from runner.state.models import Delivery
from runner.state.view import RunnerView, runner_view


@pytest.fixture
def store(state_url) -> Store:
    """The admin's store on SQLite, then on PostgreSQL (``state_url`` is parametrised)."""
    return Store(upgrade(engine_for(state_url)))


def test_a_fresh_database_blocks_nothing(store):
    view = runner_view(store.engine)
    assert view == RunnerView()
    assert view.disabled_reports == frozenset() and view.blocked_retailers == frozenset()
    assert view.opted_out == frozenset() and dict(view.extras) == {}
    assert dict(view.lists) == {"board": (), "smt": (), "admin": ()}
    # A retailer the admin has never seen is enabled: the demo and a fresh install just work.
    assert "0018d00003ZotNEWAAB" not in view.blocked_retailers
    assert view.report_enabled("retailer_weekly")


def test_the_view_reflects_every_decision(store):
    store.set_toggle("bdm_portfolio", False)
    store.set_toggle("smt_dashboard", True)
    store.set_list("smt", ["smt@example.com"])
    store.update_retailer("R1", enablement="pending")
    store.update_retailer("R2", enablement="disabled", extras=["a@example.com", "b@example.com"])
    store.update_retailer("R3", enablement="enabled", opted_out=True)
    store.update_retailer("R4", extras=["c@example.com"])  # no decision on enablement: enabled
    view = runner_view(store.engine)
    assert view.disabled_reports == {"bdm_portfolio"}
    assert not view.report_enabled("bdm_portfolio") and view.report_enabled("smt_dashboard")
    assert view.blocked_retailers == {"R1", "R2"}
    assert view.opted_out == {"R3"}
    assert dict(view.extras) == {"R2": ("a@example.com", "b@example.com"), "R4": ("c@example.com",)}
    assert view.lists["smt"] == ("smt@example.com",) and view.lists["board"] == ()
    with pytest.raises(TypeError):
        view.extras["R9"] = ("x@example.com",)  # read-only: a run cannot change the admin's state


def test_lists_are_empty_until_set(store):
    # Which declaration follows which list, and the fallback to the declared addresses, is
    # the runner's (tests/runner/test_recipients_policy.py).
    view = runner_view(store.engine)
    assert view.lists["board"] == () and view.admins(["ops@example.com"]) == ("ops@example.com",)
    store.set_list("board", ["chair@example.com"])
    store.set_list("admin", ["oncall@example.com"])
    view = runner_view(store.engine)
    assert view.lists["board"] == ("chair@example.com",) and view.lists["smt"] == ()
    assert view.admins(["ops@example.com"]) == ("oncall@example.com",)


def test_addresses_are_normalised_deduplicated_and_bad_ones_named():
    assert clean_addresses([" A@Example.COM ", "a@example.com", "b@example.com"]) == [
        "A@example.com",
        "b@example.com",
    ]
    with pytest.raises(AddressError) as caught:
        clean_addresses(["ok@example.com", "no at sign", "two@@example.com"])
    assert [p["address"] for p in caught.value.problems] == ["no at sign", "two@@example.com"]
    assert str(caught.value).startswith("'no at sign' is not a valid address: ")


def test_revision_0002_adds_the_admin_tables_and_keeps_the_ledger(state_url):
    engine = upgrade(engine_for(state_url), revision="0001")
    now = datetime.now(UTC)
    with engine.begin() as c:
        c.execute(
            Delivery.__table__.insert().values(
                report="board_pack",
                as_of=date(2026, 10, 31),
                target="all",
                recipient="b@example.com",
                transport="outbox",
                status="sent",
                updated_at=now,
            )
        )
    assert "admin_retailers" not in inspect(engine).get_table_names()
    upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    assert {
        "admin_report_toggles",
        "admin_lists",
        "admin_retailers",
        "admin_discoveries",
        "admin_test_sends",
        "deliveries",
    } <= tables
    with engine.connect() as c:
        assert c.execute(text("select version_num from alembic_version")).scalar() == "0002"
        assert c.execute(select(Delivery.recipient)).scalars().all() == ["b@example.com"]
    assert runner_view(engine) == RunnerView()


def test_two_first_runs_migrate_a_fresh_database_together(state_url):
    """Two hosts' first runs start at the same minute against an empty database: both
    end up at head, and the tables are made once."""
    from concurrent.futures import ThreadPoolExecutor

    from runner.state.database import current_revision, head_revision

    with ThreadPoolExecutor(2) as pool:
        engines = list(pool.map(lambda _: upgrade(engine_for(state_url)), range(2)))
    assert [current_revision(e) for e in engines] == [head_revision()] * 2
    assert runner_view(engines[0]) == RunnerView()
