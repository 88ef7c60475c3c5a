"""Regenerate the nbval goldens: ``make golden`` (``python -m tests.integration.golden.make [REPORT ...]``).

Each golden is a report notebook executed on the fixture snapshot in ``snapshot/`` for one
target of its fan-out, outputs kept. Parameters come from the runner's own injection
(``runner.run.prepare`` builds the job, ``runner.execution.execute.execute`` runs it), so a golden
sees exactly what a scheduled run would, with two exceptions that keep the file the same
on every machine:

- ``snapshot`` is written relative to this directory (``"snapshot"``), which is the
  kernel's working directory here and under nbval (it starts kernels beside the
  notebook);
- ``cache_dir`` is ``""`` (no commentary cache): goldens are made without an Anthropic
  key, so the commentary is the deterministic fallback and there is nothing to cache.

Everything volatile that Papermill and nbclient record (timings, paths, versions, random
cell ids) is dropped or fixed, so running ``make golden`` twice gives the same bytes.

The snapshot is committed; it is only rebuilt when missing or with ``--snapshot``
(its manifest records when it was written, so rebuilding changes that file).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import nbformat
from dotenv import dotenv_values

from lib import demo
from lib import snapshot as snapshot_mod
from lib.errors import BroadsheetError
from runner.execution import execute as execute_mod
from runner import targets as targets_mod
from runner.declarations import discover
from runner.execution.engines import register_engines
from runner.execution.job import TargetJob
from runner.run import INJECTED, prepare
from runner.spec import RunSpec
from lib.settings import Settings

log = logging.getLogger(__name__)

GOLDEN = Path(__file__).resolve().parent
ROOT = GOLDEN.parents[2]
SNAPSHOT = GOLDEN / "snapshot"

# The fixture: the demo company, small. Seed 11 with 12 retailers gives every retailer
# status, one active BDM and ~4,800 applications in ~250 KB of Parquet.
SNAPSHOT_AS_OF = date(2026, 11, 22)  # a Sunday: last week ends on it
RETAILERS = 12
SEED = 11

WEEKLY_AS_OF = SNAPSHOT_AS_OF
BOARD_AS_OF = date(2026, 10, 31)  # metrics cut every window at as_of, so one snapshot serves

# The environment variables that would let a kernel reach the Anthropic API.
COMMENTARY_ENV = ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "BROADSHEET_COMMENTARY_MODEL")


@dataclass(frozen=True)
class Golden:
    """One golden: a report, its ``as_of`` and one target of its fan-out.

    ``target`` is the target's display name; None takes the fan-out's first target in
    the runner's order (by name).
    """

    report: str
    as_of: date
    target: str | None = None

    @property
    def path(self) -> Path:
        return GOLDEN / f"{self.report}.ipynb"


GOLDENS = (
    # A name every output must escape, and a live book: applications every week, a pipeline.
    Golden("retailer_weekly", WEEKLY_AS_OF, target="O'Neill's Bikes"),
    Golden("bdm_portfolio", WEEKLY_AS_OF),  # the fixture's one active BDM
    Golden("smt_dashboard", WEEKLY_AS_OF),  # all
    Golden("board_pack", BOARD_AS_OF),  # all
)


def by_name(names: list[str] | None = None) -> list[Golden]:
    """The goldens named (all of them by default); an unknown name lists the known ones."""
    known = {g.report: g for g in GOLDENS}
    for name in names or ():
        if name not in known:
            raise SystemExit(f"no golden {name!r}; known: {', '.join(known)}")
    return [known[n] for n in names] if names else list(GOLDENS)


def settings(outputs: Path) -> Settings:
    """The checkout's reports, outputs in ``outputs`` (a temporary directory)."""
    return Settings(
        outputs=outputs,
        parameters_dir=ROOT / "parameters",
        notebooks_dir=ROOT / "notebooks",
    )


def build_snapshot() -> Path:
    """Write the fixture snapshot (replacing the committed one)."""
    tables = demo.generate(as_of=SNAPSHOT_AS_OF, retailers=RETAILERS, seed=SEED)
    return snapshot_mod.write(tables, SNAPSHOT, source="demo", as_of=SNAPSHOT_AS_OF)


def target_id(golden: Golden) -> str:
    """The id of the golden's target among the fan-out's targets on the fixture."""
    decl = discover(ROOT / "parameters").get(golden.report)
    snap = snapshot_mod.load(SNAPSHOT)
    chosen = targets_mod.fan_out(decl.fan_out, snap.accounts, snap.users)
    if golden.target is None:
        return chosen[0].id
    for t in chosen:
        if t.name == golden.target:
            return t.id
    raise SystemExit(
        f"{golden.report}: no target named {golden.target!r} on the fixture; "
        f"targets: {', '.join(t.name for t in chosen)}"
    )


def job(golden: Golden, outputs: Path) -> TargetJob:
    """The runner's job for the golden's target, exactly as ``broadsheet run`` builds it."""
    spec = RunSpec(
        report=golden.report,
        as_of=golden.as_of,
        source=str(SNAPSHOT),
        targets=(target_id(golden),),
        deliver="none",
        isolated=True,  # a fresh kernel per notebook, as nbval starts one
    )
    _, _, _, _, _, jobs = prepare(spec, settings(outputs))
    (only,) = jobs
    return only


def stable_parameters(parameters: dict[str, Any], outputs: Path) -> dict[str, Any]:
    """The injected parameters with machine-specific paths made stable (module docstring)."""
    stable = dict(parameters)
    stable["snapshot"] = Path(os.path.relpath(parameters["snapshot"], GOLDEN)).as_posix()
    stable["cache_dir"] = ""
    leaked = [k for k, v in stable.items() if str(outputs) in repr(v) or str(ROOT) in repr(v)]
    if leaked:  # a new injected path: decide here how to make it stable
        raise RuntimeError(f"injected parameters hold machine paths: {', '.join(leaked)}")
    assert set(INJECTED) <= set(stable)
    return stable


def golden_parameters(golden: Golden) -> dict[str, Any]:
    """What the golden's injected-parameters cell sets (used by the staleness test too)."""
    with tempfile.TemporaryDirectory(prefix="broadsheet-golden-") as tmp:
        return stable_parameters(job(golden, Path(tmp)).parameters, Path(tmp))


def api_key_in_dotenv() -> bool:
    """Whether a kernel started here would still find an Anthropic key, from a ``.env``.

    ``lib.commentary`` reads the first ``.env`` from its working directory upwards when
    the variable is unset, and the kernel's working directory is this one.
    """
    for directory in (GOLDEN, *GOLDEN.parents):
        env = directory / ".env"
        if env.is_file():
            value = dotenv_values(env).get("ANTHROPIC_API_KEY")
            return bool(value and value.strip())
    return False


def tidy(nb: nbformat.NotebookNode, source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop what differs between two runs or two machines; keep every output.

    - Papermill's and nbclient's timings, paths and versions (notebook and cell
      metadata); the notebook's parameters stay under ``metadata.papermill.parameters``.
    - The kernel's ``language_info`` (it names the Python patch version) and kernelspec
      display name: the source notebook's are kept.
    - Papermill gives its injected-parameters cell a random id; it gets a fixed one.
    """
    parameters = nb.metadata.get("papermill", {}).get("parameters", {})
    nb.metadata = nbformat.from_dict({**source.metadata, "papermill": {"parameters": parameters}})
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.id = "injected-parameters"
    return nb


def make(golden: Golden) -> Path:
    """Execute one golden and write it beside this file.

    Raises:
        TargetError: a cell failed; the golden on disk is left as it was.
    """
    source = nbformat.read(ROOT / "notebooks" / f"{golden.report}.ipynb", as_version=4)
    with tempfile.TemporaryDirectory(prefix="broadsheet-golden-") as tmp:
        outputs = Path(tmp)
        the_job = job(golden, outputs)
        parameters = stable_parameters(the_job.parameters, outputs)
        nb = execute_mod.execute(
            the_job.notebook,
            outputs / f"{golden.report}.ipynb",
            parameters,
            target=the_job.target_id,
            timeout=the_job.timeout,
            cwd=GOLDEN,
            engine=the_job.engine,
        )
    nb = tidy(nb, source)
    nbformat.validate(nb)
    nbformat.write(nb, golden.path)
    return golden.path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make golden", description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="*", help="the goldens to regenerate (default: all)")
    parser.add_argument("--snapshot", action="store_true", help="rebuild the fixture snapshot")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("traitlets", "papermill", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    for name in COMMENTARY_ENV:  # the deterministic fallback commentary, never the API
        os.environ.pop(name, None)
    if api_key_in_dotenv():
        print(
            "make golden: a .env file sets ANTHROPIC_API_KEY; goldens are made with the "
            "fallback commentary, so move the key out of .env (or export it only when "
            "needed) and run make golden again",
            file=sys.stderr,
        )
        return 2
    if args.snapshot or not (SNAPSHOT / snapshot_mod.MANIFEST).is_file():
        log.info("writing the fixture snapshot %s", build_snapshot().relative_to(ROOT))

    register_engines()
    failed = []
    for golden in by_name(args.reports):
        try:
            path = make(golden)
        except BroadsheetError as err:
            failed.append(golden.report)
            print(f"make golden: {golden.report} failed: {err}", file=sys.stderr)
            continue
        log.info("wrote %s (%d KB)", path.relative_to(ROOT), path.stat().st_size // 1024)
    if failed:
        print(f"make golden: not regenerated: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
