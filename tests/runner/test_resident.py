"""The warm runner's client side: when a run is handed over, and which runner serves it."""

from __future__ import annotations

import json
import os
import socket
import threading
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from lib.settings import Settings
from runner import resident
from runner.spec import RunSpec


@pytest.mark.parametrize(
    ("warm", "interactive", "scheduler", "expected"),
    [
        ("auto", True, None, True),
        ("auto", False, None, False),  # cron: no terminal, its own process as before
        ("on", False, None, True),
        ("off", True, None, False),
        ("on", True, "tcp://10.0.0.5:8786", False),  # an existing cluster is used directly
    ],
)
def test_which_runs_are_handed_to_a_warm_runner(warm, interactive, scheduler, expected):
    spec = RunSpec(report="retailer_weekly", scheduler=scheduler)
    assert resident.wanted(Settings(warm=warm), spec, interactive=interactive) is expected


def test_an_unknown_warm_mode_is_refused():
    with pytest.raises(ValueError, match="warm"):
        Settings(warm="sometimes")


@given(
    as_of=st.one_of(st.none(), st.dates(min_value=date(2000, 1, 1))),
    targets=st.lists(st.text(min_size=1, max_size=20), max_size=4),
    deliver=st.sampled_from(["none", "outbox", "smtp", "graph"]),
    workers=st.one_of(st.none(), st.integers(1, 64)),
    flags=st.tuples(st.booleans(), st.booleans(), st.booleans()),
)
def test_a_spec_crosses_to_the_runner_unchanged(as_of, targets, deliver, workers, flags):
    spec = RunSpec(
        report="retailer_weekly",
        as_of=as_of,
        targets=tuple(targets),
        deliver=deliver,
        workers=workers,
        resend=flags[0],
        isolated=flags[1],
        preview=flags[2],
        test_to="qa@example.com" if flags[0] else None,
    )
    assert RunSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec


def test_another_setting_or_secret_names_another_runner():
    base = resident.key(Settings(company="Larkspur"))
    assert resident.key(Settings(company="Larkspur")) == base
    assert resident.key(Settings(company="Other")) != base
    secret = Settings.model_validate({"company": "Larkspur"})
    secret.anthropic.api_key = SecretStr("sk-new")
    assert resident.key(secret) != base


def test_changed_code_names_another_runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for top in ("lib", "runner"):
        (tmp_path / top).mkdir()
        (tmp_path / top / "a.py").write_text("x = 1\n")
    (tmp_path / "runner" / "templates").mkdir()
    template = tmp_path / "runner" / "templates" / "index.html.j2"
    template.write_text("{{ x }}")
    monkeypatch.setattr(resident, "ROOT", tmp_path)
    before = resident.code_digest()
    assert resident.code_digest() == before
    os.utime(template, ns=(1, 1))  # a template is code too: exporters cache it per process
    changed = resident.code_digest()
    assert changed != before
    (tmp_path / "lib" / "a.py").write_text("x = 22\n")
    assert resident.code_digest() != changed


def test_a_module_beside_the_notebooks_is_code_too(tmp_path: Path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "report.ipynb").write_text("{}")
    before = resident.code_digest(notebooks)
    (notebooks / "report.ipynb").write_text('{"cells": []}')  # read afresh by every run
    assert resident.code_digest(notebooks) == before
    (notebooks / "helpers.py").write_text("def f(): ...\n")  # imported, then kept by a kernel
    assert resident.code_digest(notebooks) != before


def test_a_runtime_directory_others_can_enter_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(resident.tempfile, "gettempdir", lambda: str(tmp_path))
    mine = resident.runtime_dir()
    assert mine == tmp_path / f"broadsheet-{os.getuid()}"
    assert mine.stat().st_mode & 0o777 == 0o700
    mine.chmod(0o755)
    assert resident.runtime_dir() is None
    mine.rmdir()
    mine.write_text("not a directory")
    assert resident.runtime_dir() is None


def test_a_socket_path_too_long_for_af_unix_means_no_warm_runner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    deep = tmp_path / ("d" * 90)
    deep.mkdir()
    monkeypatch.setattr(resident.tempfile, "gettempdir", lambda: str(deep))
    assert (
        resident.submit(
            RunSpec(report="retailer_weekly"),
            Settings(outputs=tmp_path / "outputs"),
            verbosity=0,
            process_started=None,
            progress=lambda *a: None,
            echo=lambda line, err: None,
        )
        is None
    )


def _runner_replying(replies: list[dict]):
    """A stand-in runner on one end of a socket pair: reads the request, sends ``replies``,
    hangs up. Returns what ``resident._connect`` should return, and the request read."""
    client, server = socket.socketpair(socket.AF_UNIX)
    got: list[dict] = []

    def serve() -> None:
        with server, server.makefile("r") as stream:
            got.append(json.loads(stream.readline()))
            for reply in replies:
                server.sendall((json.dumps(reply) + "\n").encode())

    threading.Thread(target=serve, daemon=True).start()
    return client, got


@pytest.mark.parametrize(
    ("replies", "status", "said"),
    [
        ([], None, []),  # the runner was stopping as the run came in: run it here
        ([{"busy": True}], None, []),  # busy with another run: run it here, not queue
        ([{"started": True}], 1, ["stopped during the run"]),  # died mid-run
        (
            [
                {"started": True},
                {"log": "INFO runner.run: tiny 2026-11-22: 1 target(s)"},
                {
                    "progress": {
                        "result": {"id": "R1", "status": "ok", "duration": 0.4},
                        "done": 1,
                        "total": 1,
                    }
                },
                {"done": {"exit": 1, "lines": ["tiny 2026-11-22: 0/1 targets ok"], "error": None}},
            ],
            1,
            ["1 target(s)", "0/1 targets ok"],
        ),
    ],
)
def test_what_the_client_makes_of_the_runners_replies(
    replies, status, said, monkeypatch: pytest.MonkeyPatch
):
    conn, got = _runner_replying(replies)
    monkeypatch.setattr(resident, "_connect", lambda name: conn)
    lines: list[tuple[str, bool]] = []
    progress: list[tuple[str, int, int]] = []
    result = resident.submit(
        RunSpec(report="tiny", targets=("R1",)),
        Settings(),
        verbosity=1,
        process_started=123.0,
        progress=lambda r, done, total: progress.append((r.id, done, total)),
        echo=lambda line, err: lines.append((line, err)),
    )
    assert result == status
    assert got[0]["op"] == "run" and got[0]["spec"]["targets"] == ["R1"]
    assert got[0]["verbosity"] == 1 and got[0]["process_started"] == 123.0
    for text in said:
        assert any(text in line for line, _ in lines), (text, lines)
    if status == 1 and len(replies) > 1:
        assert progress == [("R1", 1, 1)]
        assert lines[0][1] is True and lines[1] == ("tiny 2026-11-22: 0/1 targets ok", False)
