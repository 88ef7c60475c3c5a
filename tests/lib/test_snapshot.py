"""Snapshot directories: atomic writes, validation on load, derived columns, filtering."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lib import snapshot
from lib.errors import SnapshotError

AS_OF = date(2026, 11, 22)


def _tiny_tables() -> dict[str, pd.DataFrame]:
    """Two retailers, three applications, in the raw shape a Salesforce extract has."""
    users = pd.DataFrame(
        {
            "Id": ["005000000000001AAA", "005000000000002AAA"],
            "Name": ["Ada Lovelace", "Zoë Brontë"],
            "Email": ["ada@example.com", None],
            "IsActive": [True, False],
        }
    )
    accounts = pd.DataFrame(
        {
            "Id": ["001000000000001AAA", "001000000000002AAA"],
            "Name": ["Harbour & Sons", "<Dent> Studio"],
            "OwnerId": ["005000000000001AAA", "005000000000002AAA"],
            "Retailer_Status__c": ["Live", "Onboarding"],
            "Onboarded_Date__c": ["2024-03-02", None],
            "Primary_Contact_Email__c": ["info@harbour.example", "not an email"],
            "Sector__c": ["Home Improvement", None],
        }
    )
    applications = pd.DataFrame(
        {
            "Id": ["a0X000000000001AAA", "a0X000000000002AAA", "a0X000000000003AAA"],
            "Name": ["APP-0000001", "APP-0000002", "APP-0000003"],
            "Retailer__c": ["001000000000001AAA", "001000000000001AAA", "001000000000002AAA"],
            "Lender_Name__c": ["  northwind bank ltd. ", None, "Greyfriars Lending Ltd"],
            "Product_Code__c": ["ifc 24", "IBC_060", None],
            "Loan_Amount__c": [1500.0, None, 250.5],
            "Status__c": ["Paid", "Submitted", "Declined"],
            # 23:30 UTC in British Summer Time is 00:30 the next day in London.
            "Submitted_Date__c": [
                "2026-07-01T23:30:00.000+0000",
                "2026-01-10T23:30:00.000+0000",
                "2026-11-20T09:15:00.000+0000",
            ],
            "Decision__c": ["Approved", None, "Declined"],
            "Decision_Date__c": [
                "2026-07-02T08:00:00.000+0000",
                None,
                "2026-11-20T09:20:00.000+0000",
            ],
            "Signed_Date__c": ["2026-07-03T10:00:00.000+0000", None, None],
            "Paid_Date__c": ["2026-07-06T11:00:00.000+0000", None, None],
            "Cancelled_Date__c": [None, None, None],
            "SystemModstamp": [
                "2026-07-06T11:00:00.000+0000",
                "2026-01-10T23:30:00.000+0000",
                "2026-11-20T09:20:00.000+0000",
            ],
        }
    )
    return {"users": users, "accounts": accounts, "applications": applications}


def _fix_hash(directory: Path) -> None:
    """Make the manifest's hash match the files again, as a buggy writer would."""
    manifest = json.loads((directory / "manifest.json").read_text())
    digest = hashlib.sha256()
    for name in snapshot.SCHEMA:
        digest.update((directory / f"{name}.parquet").read_bytes())
    manifest["content_hash"] = f"sha256:{digest.hexdigest()}"
    (directory / "manifest.json").write_text(json.dumps(manifest))


def _rewrite_table(directory: Path, table: str, data: pa.Table) -> None:
    """Replace one table file behind the writer's back."""
    pq.write_table(data, directory / f"{table}.parquet")
    _fix_hash(directory)


@pytest.fixture
def tiny_dir(tmp_path: Path) -> Path:
    return snapshot.write(_tiny_tables(), tmp_path / "snap", source="demo", as_of=AS_OF)


# --- round trip --------------------------------------------------------------------------


def test_round_trip_keeps_every_value_and_type(demo_tables, demo_snapshot_dir, demo_snapshot):
    manifest = json.loads((demo_snapshot_dir / "manifest.json").read_text())
    assert manifest["schema_version"] == 1
    assert manifest["source"] == "demo"
    assert manifest["as_of"] == "2026-11-22"
    assert manifest["content_hash"].startswith("sha256:")
    assert datetime.fromisoformat(manifest["extracted_at"]).tzinfo is not None
    assert manifest["row_counts"] == {t: len(demo_tables[t]) for t in snapshot.SCHEMA}
    assert demo_snapshot.manifest == manifest
    assert demo_snapshot.as_of == date(2026, 11, 22)
    assert demo_snapshot.source == "demo"
    for table in snapshot.SCHEMA:
        loaded = getattr(demo_snapshot, table)[list(snapshot.SCHEMA[table])]
        pd.testing.assert_frame_equal(loaded, demo_tables[table], check_dtype=True)


def test_stored_parquet_types(demo_snapshot_dir):
    schema = pq.read_schema(demo_snapshot_dir / "applications.parquet")
    assert schema.names == list(snapshot.SCHEMA["applications"])
    assert schema.field("Submitted_Date__c").type == pa.timestamp("us", tz="UTC")
    assert schema.field("Loan_Amount__c").type == pa.float64()
    assert schema.field("Lender_Name__c").type == pa.string()
    accounts = pq.read_schema(demo_snapshot_dir / "accounts.parquet")
    assert accounts.field("Onboarded_Date__c").type == pa.date32()
    assert pq.read_schema(demo_snapshot_dir / "users.parquet").field("IsActive").type == pa.bool_()


def test_write_accepts_salesforce_strings_and_drops_extra_columns(tmp_path):
    tables = _tiny_tables()
    tables["applications"]["attributes"] = [{"type": "Application__c"}] * 3
    snap = snapshot.load(snapshot.write(tables, tmp_path / "s", source="demo", as_of=AS_OF))
    assert "attributes" not in snap.applications.columns
    apps = snap.applications
    assert str(apps["Submitted_Date__c"].dtype) == "datetime64[us, UTC]"
    assert apps["Submitted_Date__c"][0] == pd.Timestamp("2026-07-01T23:30:00Z")
    assert snap.accounts["Onboarded_Date__c"][0] == date(2024, 3, 2)
    assert snap.accounts["Onboarded_Date__c"][1] is None


def test_write_returns_an_absolute_path_and_keeps_extra_manifest_entries(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = snapshot.write(
        _tiny_tables(),
        Path("rel") / "snap",
        source="salesforce",
        as_of=AS_OF,
        extra={"api": {"calls": 3}},
    )
    assert out == tmp_path / "rel" / "snap"
    assert snapshot.load(out).manifest["api"] == {"calls": 3}
    with pytest.raises(ValueError, match="content_hash"):
        snapshot.write(_tiny_tables(), out, source="demo", as_of=AS_OF, extra={"content_hash": "x"})


def test_default_dir(tmp_path):
    assert (
        snapshot.default_dir(tmp_path, "demo", AS_OF)
        == tmp_path / "snapshots" / "demo" / "2026-11-22"
    )


# --- atomic writes -----------------------------------------------------------------------


def test_write_replaces_a_previous_snapshot(tiny_dir, demo_tables):
    snapshot.write(demo_tables, tiny_dir, source="demo", as_of=AS_OF)
    assert snapshot.load(tiny_dir).manifest["row_counts"]["accounts"] == 30
    assert sorted(p.name for p in tiny_dir.parent.iterdir()) == ["snap"]


def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    calls = []

    def failing(path: Path, data: bytes) -> None:
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        path.write_bytes(data)

    monkeypatch.setattr(snapshot, "_write_file", failing)
    with pytest.raises(OSError, match="disk full"):
        snapshot.write(_tiny_tables(), tmp_path / "snap", source="demo", as_of=AS_OF)
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_previous_snapshot(tiny_dir, monkeypatch):
    before = snapshot.load(tiny_dir).manifest

    def failing(path: Path, data: bytes) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(snapshot, "_write_file", failing)
    with pytest.raises(OSError):
        snapshot.write(_tiny_tables(), tiny_dir, source="demo", as_of=AS_OF)
    assert snapshot.load(tiny_dir).manifest == before
    assert sorted(p.name for p in tiny_dir.parent.iterdir()) == ["snap"]


def test_write_refuses_to_replace_a_directory_that_is_not_a_snapshot(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(SnapshotError, match="not a snapshot"):
        snapshot.write(_tiny_tables(), tmp_path, source="demo", as_of=AS_OF)
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_write_names_a_missing_table_or_column(tmp_path):
    tables = _tiny_tables()
    del tables["accounts"]
    with pytest.raises(SnapshotError, match="accounts") as info:
        snapshot.write(tables, tmp_path / "s", source="demo", as_of=AS_OF)
    assert info.value.table == "accounts"
    tables = _tiny_tables()
    tables["applications"] = tables["applications"].drop(columns=["Status__c"])
    with pytest.raises(SnapshotError) as info:
        snapshot.write(tables, tmp_path / "s", source="demo", as_of=AS_OF)
    assert "applications" in str(info.value) and "Status__c" in str(info.value)
    assert not (tmp_path / "s").exists()


def test_write_names_a_column_that_cannot_be_stored(tmp_path):
    tables = _tiny_tables()
    tables["applications"]["Submitted_Date__c"] = ["yesterday", "today", "tomorrow"]
    with pytest.raises(SnapshotError, match="applications: Submitted_Date__c: cannot store"):
        snapshot.write(tables, tmp_path / "s", source="demo", as_of=AS_OF)


# --- validation on load ------------------------------------------------------------------


def test_missing_directory(tmp_path):
    with pytest.raises(SnapshotError, match="broadsheet extract") as info:
        snapshot.load(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(info.value)


def test_missing_manifest(tiny_dir):
    (tiny_dir / "manifest.json").unlink()
    with pytest.raises(SnapshotError, match="manifest.json is missing"):
        snapshot.load(tiny_dir)


def test_unreadable_manifest_is_corrupt(tiny_dir):
    (tiny_dir / "manifest.json").write_text("{not json")
    with pytest.raises(SnapshotError, match="corrupt"):
        snapshot.load(tiny_dir)


def test_manifest_without_a_key(tiny_dir):
    manifest = json.loads((tiny_dir / "manifest.json").read_text())
    del manifest["row_counts"]
    (tiny_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SnapshotError, match="row_counts"):
        snapshot.load(tiny_dir)


def test_missing_table_is_named(tiny_dir):
    (tiny_dir / "accounts.parquet").unlink()
    with pytest.raises(SnapshotError) as info:
        snapshot.load(tiny_dir)
    message = str(info.value)
    assert str(tiny_dir) in message and "accounts" in message
    assert info.value.table == "accounts"


@pytest.mark.parametrize("reader", [snapshot.load, snapshot.load_header], ids=["load", "header"])
def test_missing_column_names_table_and_column(tiny_dir, reader):
    data = pq.read_table(tiny_dir / "applications.parquet").drop_columns(["Paid_Date__c"])
    _rewrite_table(tiny_dir, "applications", data)
    with pytest.raises(SnapshotError) as info:
        reader(tiny_dir)
    message = str(info.value)
    assert str(tiny_dir) in message
    assert "applications" in message and "Paid_Date__c" in message
    assert (info.value.table, info.value.column) == ("applications", "Paid_Date__c")


@pytest.mark.parametrize("reader", [snapshot.load, snapshot.load_header], ids=["load", "header"])
def test_wrong_column_type_names_table_and_column(tiny_dir, reader):
    data = pq.read_table(tiny_dir / "applications.parquet")
    index = data.column_names.index("Loan_Amount__c")
    data = data.set_column(index, "Loan_Amount__c", pa.array(["1500", None, "250.5"]))
    _rewrite_table(tiny_dir, "applications", data)
    with pytest.raises(SnapshotError, match="applications: Loan_Amount__c: has type string"):
        reader(tiny_dir)


@pytest.mark.parametrize("reader", [snapshot.load, snapshot.load_header], ids=["load", "header"])
def test_changed_bytes_are_corrupt(tiny_dir, reader):
    file = tiny_dir / "applications.parquet"
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    file.write_bytes(bytes(data))
    with pytest.raises(SnapshotError, match="corrupt") as info:
        reader(tiny_dir)
    assert str(tiny_dir) in str(info.value)


def test_unreadable_parquet_is_corrupt(tiny_dir):
    (tiny_dir / "users.parquet").write_bytes(b"this is not parquet")
    _fix_hash(tiny_dir)
    with pytest.raises(SnapshotError, match="corrupt.*users.parquet is not readable parquet"):
        snapshot.load(tiny_dir)


@pytest.mark.parametrize("table", ["users", "applications"])
def test_the_header_refuses_unreadable_parquet_and_wrong_row_counts(tiny_dir, table):
    (tiny_dir / f"{table}.parquet").write_bytes(b"this is not parquet")
    _fix_hash(tiny_dir)
    with pytest.raises(SnapshotError, match=f"corrupt.*{table}.parquet is not readable parquet"):
        snapshot.load_header(tiny_dir)


def test_the_header_refuses_a_row_count_the_manifest_does_not_say(tiny_dir):
    manifest = json.loads((tiny_dir / "manifest.json").read_text())
    manifest["row_counts"]["applications"] += 1
    (tiny_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SnapshotError, match="applications: snapshot is corrupt: 3 rows"):
        snapshot.load_header(tiny_dir)


def test_the_header_holds_what_load_reads_but_the_applications(demo_snapshot_dir, demo_snapshot):
    header = snapshot.load_header(demo_snapshot_dir)
    assert header.manifest == demo_snapshot.manifest
    pd.testing.assert_frame_equal(header.users, demo_snapshot.users)
    pd.testing.assert_frame_equal(header.accounts, demo_snapshot.accounts)
    assert not hasattr(header, "applications")


# --- derived columns ---------------------------------------------------------------------


def test_derived_columns(tiny_dir):
    snap = snapshot.load(tiny_dir)
    apps = snap.applications
    for column in ("submitted_day", "decision_day", "signed_day", "paid_day", "cancelled_day"):
        assert str(apps[column].dtype) == "datetime64[ns]", column
    # 23:30 UTC on 1 July is 00:30 on 2 July in London (BST); in January it stays the day.
    assert apps["submitted_day"][0] == pd.Timestamp("2026-07-02")
    assert apps["submitted_day"][1] == pd.Timestamp("2026-01-10")
    assert pd.isna(apps["signed_day"][1]) and apps["cancelled_day"].isna().all()
    assert list(apps["lender"]) == ["Northwind Bank", "Unknown", "Greyfriars Lending"]
    assert list(apps["product_family"]) == ["Interest Free", "Interest Bearing", "Other"]
    assert list(apps["term_bucket"]) == ["13–36", "37+", "Unknown"]
    assert list(apps["amount"]) == [1500.0, 0.0, 250.5]
    assert pd.isna(apps["Loan_Amount__c"][1])  # the raw column keeps its null
    accounts = snap.accounts
    assert str(accounts["onboarded_day"].dtype) == "datetime64[ns]"
    assert accounts["onboarded_day"][0] == pd.Timestamp("2024-03-02")
    assert pd.isna(accounts["onboarded_day"][1])


def test_demo_snapshot_has_derived_columns(demo_snapshot):
    apps = demo_snapshot.applications
    for column in ("submitted_day", "lender", "product_family", "term_bucket", "amount"):
        assert column in apps.columns
    assert apps["amount"].notna().all()
    assert "onboarded_day" in demo_snapshot.accounts.columns


# --- for_retailers -----------------------------------------------------------------------


def test_for_retailers_filters_every_table(demo_snapshot):
    accounts = demo_snapshot.accounts
    wanted = list(accounts["Id"][:2])
    part = demo_snapshot.for_retailers(wanted)
    assert sorted(part.accounts["Id"]) == sorted(wanted)
    assert set(part.applications["Retailer__c"]) <= set(wanted)
    expected_apps = demo_snapshot.applications["Retailer__c"].isin(wanted).sum()
    assert len(part.applications) == expected_apps > 0
    assert set(part.users["Id"]) == set(part.accounts["OwnerId"])
    assert part.path == demo_snapshot.path and part.manifest == demo_snapshot.manifest
    # The original is untouched.
    assert len(demo_snapshot.accounts) == 30


def test_for_retailers_with_one_id_string_or_unknown_ids(demo_snapshot):
    one = demo_snapshot.accounts["Id"][0]
    assert list(demo_snapshot.for_retailers(one).accounts["Id"]) == [one]
    empty = demo_snapshot.for_retailers(["001NOSUCHRETAILER1"])
    assert empty.accounts.empty and empty.applications.empty and empty.users.empty
    assert list(empty.applications.columns) == list(demo_snapshot.applications.columns)
