"""The warm-kernel engine: isolation between targets on one kernel, and replacement.

Each test runs tiny purpose-built notebooks with ``runner.execution.execute.execute`` on the
``broadsheet-warm`` engine in this process, so successive targets share one kernel
exactly as they do on a worker. Notebooks print ``os.getpid()`` where a test needs to
know which kernel ran them.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import nbformat
import pytest
from papermill.engines import NBClientEngine, papermill_engines

from lib.errors import TargetError
from runner.execution.engines import (
    ENGINE,
    WARM_ENGINE,
    KeepingEngine,
    WarmEngine,
    register_engines,
)
from runner.execution.execute import execute
from tests.fixtures.runner import make_notebook

pytestmark = pytest.mark.slow

PARAMETERS = 'label = "default"'
PID = "import os\nprint('pid', os.getpid())"

# Target A defines one of everything a notebook can leave behind, and changes the
# process state a warm kernel restores. Its outputs must not depend on anything before it.
A_CELLS = [
    "secret_a = 'only for ' + label\nimport json as jsn_alias\nfrom os import path as path_alias",
    "class Config:\n    level = 'default'\n\n"
    "def helper():\n    return 'helper of A'\n\n"
    "Config.level = 'patched by A'\nhelper.marker = 'patched by A'\n"
    "print(label, secret_a, Config.level, helper.marker, jsn_alias.dumps([1, 2]))",
    "import os, sys, warnings\nos.chdir('/')\nsys.path.insert(0, '/tmp/from-a')\n"
    "os.environ['BROADSHEET_TEST_FROM_A'] = '1'\nwarnings.simplefilter('ignore')",
    "{'label': label, 'n': len(secret_a)}",
]

# Target B looks for every one of them.
B_CELLS = [
    "names = sorted(n for n in ('secret_a', 'jsn_alias', 'path_alias', 'helper', 'label') "
    "if n in globals())\nprint(names)",
    "class Config:\n    level = 'default'\n\nprint(Config.level)",
    "import os, sys, warnings\n"
    "print(os.getcwd(), '/tmp/from-a' in sys.path, 'BROADSHEET_TEST_FROM_A' in os.environ,\n"
    "      any(f[0] == 'ignore' and f[2] is Warning for f in warnings.filters))",
    "print(len(Out), len(In))",
]


@pytest.fixture(autouse=True)
def warm_engine():
    """Our engines registered; no warm kernel carried into or out of a test."""
    register_engines()
    WarmEngine.discard()
    yield
    WarmEngine.discard()


def run(tmp_path: Path, name: str, nb: nbformat.NotebookNode, timeout: int = 30, **params):
    """One target on the warm engine, kernel cwd ``tmp_path`` (the key of its kernel)."""
    return execute(
        nb,
        tmp_path / "out" / f"{name}.ipynb",
        params,
        target=name,
        timeout=timeout,
        cwd=tmp_path,
        engine=WARM_ENGINE,
    )


def printed(nb: nbformat.NotebookNode) -> list[str]:
    """Every line the notebook printed, in order (one line may arrive in two outputs)."""
    return "".join(
        out["text"]
        for cell in nb.cells
        for out in cell.get("outputs", [])
        if out.get("name") == "stdout"
    ).splitlines()


def pid_of(nb: nbformat.NotebookNode) -> int:
    return pid_of_lines(printed(nb))


def pid_of_lines(lines: list[str]) -> int:
    return int(next(line for line in lines if line.startswith("pid "))[4:])


def code_cells(nb: nbformat.NotebookNode) -> list[tuple]:
    """What a reader of the executed notebook sees: each code cell's count and outputs.

    A kernel flushes stdout on a timer, so one ``print`` may reach the notebook as one
    stream output or as two, on a fresh kernel as on a warm one; consecutive stream
    outputs are joined (as JupyterLab shows them) before comparing.
    """
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs: list[dict] = []
        for out in cell.outputs:
            last = outputs[-1] if outputs else None
            if out.output_type == "stream" and last and last.get("name") == out.name:
                last["text"] += out.text
            else:
                outputs.append(dict(out))
        cells.append((cell.execution_count, json.dumps(outputs, sort_keys=True)))
    return cells


def test_targets_a_b_a_on_one_kernel_are_isolated_and_repeatable(tmp_path):
    a_nb = make_notebook([PID, *A_CELLS], PARAMETERS)
    b_nb = make_notebook([PID, *B_CELLS], PARAMETERS)

    first_a = run(tmp_path, "a1", a_nb, label="A")
    b = run(tmp_path, "b", b_nb, label="B")
    second_a = run(tmp_path, "a2", a_nb, label="A")

    assert pid_of(first_a) == pid_of(b) == pid_of(second_a), "one warm kernel for all three"
    assert code_cells(first_a) == code_cells(second_a)
    # Counts restart at 1 as on a fresh kernel: parameters, injected parameters, then ours.
    assert [count for count, _ in code_cells(first_a)] == list(range(1, 8))
    assert printed(b)[1:] == [
        "['label']",  # only its own parameter: no variable, alias or function of A
        "default",  # its own class, not A's patched one
        f"{tmp_path} False False False",  # cwd, sys.path, environment, warnings restored
        "0 8",  # no output or input history of A: In holds B's seven cells (and In[0])
    ]


def test_a_library_module_patched_by_one_target_stays_patched_for_the_next(tmp_path):
    """The documented limit of a warm kernel: imported modules, and their state, persist.

    This is why ``lib/`` holds no mutable state and notebooks never patch a library;
    ``--isolated`` gives a notebook that must a fresh kernel of its own.
    """
    patch = make_notebook([PID, "import json\njson.broadsheet_marker = 'set by an earlier target'"])
    look = make_notebook([PID, "import json\nprint(getattr(json, 'broadsheet_marker', None))"])
    first = run(tmp_path, "patch", patch)
    second = run(tmp_path, "look", look)
    assert pid_of(first) == pid_of(second)
    assert printed(second)[-1] == "set by an earlier target"


FAILURES = {
    "raises": ("raise RuntimeError('no data')", "RuntimeError"),
    "times out": ("import time\ntime.sleep(60)", "CellTimeoutError"),
    "kills its kernel": (
        "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
        "DeadKernelError",
    ),
}


@pytest.mark.parametrize("failure", FAILURES, ids=list(FAILURES))
def test_a_failed_target_gets_a_fresh_kernel_next(tmp_path, failure):
    source, ename = FAILURES[failure]
    ok = make_notebook([PID])
    before = pid_of(run(tmp_path, "before", ok))

    with pytest.raises(TargetError) as caught:
        run(tmp_path, "failing", make_notebook([PID, source]), timeout=2)
    assert caught.value.ename == ename
    assert caught.value.cell == 2  # in the source notebook: parameters, PID, failing
    kept = nbformat.read(caught.value.notebook, as_version=4)
    assert pid_of(kept) == before, "the failing target ran on the warm kernel"

    after = pid_of(run(tmp_path, "after", ok))
    assert after != before
    with pytest.raises(ProcessLookupError):
        os.kill(before, 0)  # and the old kernel is gone, even a busy one


def test_a_kernel_that_died_between_targets_is_replaced(tmp_path):
    nb = make_notebook([PID])
    before = pid_of(run(tmp_path, "before", nb))
    os.kill(before, signal.SIGKILL)
    after = pid_of(run(tmp_path, "after", nb))
    assert after != before


def test_kernels_are_kept_per_working_directory(tmp_path):
    nb = make_notebook([PID, "import os\nprint(os.getcwd())"])
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one = run(tmp_path / "one", "one", nb)
    two = run(tmp_path / "two", "two", nb)
    assert pid_of(one) != pid_of(two)
    assert printed(one)[-1] == str(tmp_path / "one")
    assert printed(two)[-1] == str(tmp_path / "two")


def test_engines_are_registered_under_their_own_names():
    register_engines()  # twice: idempotent
    assert papermill_engines.get_engine(WARM_ENGINE) is WarmEngine
    assert papermill_engines.get_engine(ENGINE) is KeepingEngine
    # Papermill's own entries are untouched.
    assert papermill_engines.get_engine(None) is NBClientEngine
    assert papermill_engines.get_engine("nbclient") is NBClientEngine


def test_memory_and_sockets_stay_flat_over_many_targets(tmp_path):
    """A target's garbage, cycles included, is gone before the next; no socket leaks."""
    nb = make_notebook(
        [
            PID,
            # 40 MB held only through a reference cycle: freed by the collector alone.
            "big = [bytearray(40 * 2**20)]\nbig.append(big)",
            "import re\nstatus = open('/proc/self/status').read()\n"
            "print('rss', re.search(r'VmRSS:\\s+(\\d+)', status).group(1))",
        ]
    )

    def one(i: int) -> tuple[int, int]:
        out = printed(run(tmp_path, f"t{i}", nb))
        return pid_of_lines(out), int(next(x for x in out if x.startswith("rss "))[4:])

    def fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    one(0)
    pid, early = one(1)
    handles = fds()
    for i in range(2, 25):
        assert one(i)[0] == pid
    _, late = one(25)
    assert late < early * 1.10, (early, late)  # kB; one 40 MB leak would be +30 % or more
    assert fds() == handles  # the one kernel's channels are reused, never reopened


# --- a kernel started ahead ------------------------------------------------------------

LOOK = [
    "import sys\nprint(sorted(n for n in globals() if not n.startswith('_') "
    "and n not in ('In', 'Out', 'exit', 'quit', 'get_ipython')))",
    "print('colorsys' in sys.modules, 'no_such_module_for_broadsheet' in sys.modules)",
]


def test_a_kernel_started_ahead_runs_the_first_target_as_a_fresh_one_would(tmp_path):
    nb = make_notebook(LOOK, PARAMETERS)
    (tmp_path / "fresh").mkdir()
    fresh = run(tmp_path / "fresh", "fresh", nb, label="A")
    started = WarmEngine.started
    assert WarmEngine.prestart("python3", tmp_path, ["colorsys", "no_such_module_for_broadsheet"])
    pid = WarmEngine.kernel_pid("python3", tmp_path)
    ahead = run(tmp_path, "ahead", nb, label="A")
    assert WarmEngine.started == started + 1, "the target used the kernel started ahead"
    assert WarmEngine.kernel_pid("python3", tmp_path) == pid
    # Same counts, same user namespace (the preload left no name behind); only the
    # preloaded module differs.
    assert code_cells(ahead)[:-1] == code_cells(fresh)[:-1]
    assert "'label', 'open', 'sys'" in printed(ahead)[0]
    assert printed(fresh)[-1] == "False False"
    assert printed(ahead)[-1] == "True False"  # preloaded; a missing module is left alone


def test_a_kernel_started_ahead_that_died_is_replaced(tmp_path):
    assert WarmEngine.prestart("python3", tmp_path, [])
    ahead = WarmEngine.kernel_pid("python3", tmp_path)
    os.kill(ahead, signal.SIGKILL)
    ran = pid_of(run(tmp_path, "after", make_notebook([PID])))
    assert ran != ahead
    assert not WarmEngine.prestart("python3", tmp_path, []), "one kernel per key"


def test_a_missing_module_fails_in_the_notebook_cell_as_on_a_fresh_kernel(tmp_path):
    WarmEngine.prestart("python3", tmp_path, ["no_such_module_for_broadsheet"])
    with pytest.raises(TargetError) as caught:
        run(tmp_path, "import", make_notebook([PID, "import no_such_module_for_broadsheet"]))
    assert (caught.value.ename, caught.value.cell) == ("ModuleNotFoundError", 2)
