"""Papermill engines of our own, registered under their own names.

Papermill's default engine stays as it is (never overwrite a third party's global entry);
ours are chosen with ``engine_name=``. Registration is explicit, done by the code that
runs notebooks, not as an import side effect.

- ``broadsheet``: papermill's nbclient engine, a fresh kernel per notebook, that keeps
  the partly executed notebook on any failure (``--isolated``).
- ``broadsheet-warm``: one kernel per worker process reused across targets. Start-up
  dominates a fan-out (papermill issue #583): a kernel costs ~1 s to start and pandas and
  matplotlib ~0.7 s to import. Each target gets a clean user namespace; a kernel whose
  target failed, timed out or died is replaced by a fresh one.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, ClassVar

from jupyter_client.manager import AsyncKernelManager
from nbclient.util import run_sync
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines
from papermill.utils import merge_kwargs, remove_args

log = logging.getLogger(__name__)

ENGINE = "broadsheet"
WARM_ENGINE = "broadsheet-warm"

# Run silently before each target on a warm kernel: the user namespace is emptied (modules
# stay imported, which is the point), stray pyplot figures closed, and the execution count
# restarted so the executed notebook reads exactly as a fresh kernel's would.
_RESET = """\
get_ipython().run_line_magic('reset', '-f')
import sys as _bs_sys, gc as _bs_gc
if 'matplotlib.pyplot' in _bs_sys.modules:
    _bs_sys.modules['matplotlib.pyplot'].close('all')
_bs_gc.collect()
del _bs_sys, _bs_gc
get_ipython().execution_count = 1
"""


class KeepingEngine(NBClientEngine):
    """Papermill's nbclient engine that keeps the partly executed notebook on any failure.

    Papermill saves the notebook when a cell raises, but a cell timeout or a dead kernel
    propagate before anything is written. This engine hangs the notebook, with each
    cell's papermill status, on the exception (``err.notebook``) and the index of the
    cell that was running (``err.cell_index``), so the runner can keep it and name it.
    """

    @classmethod
    def execute_notebook(cls, nb, kernel_name, output_path=None, progress_bar=True,
                         log_output=False, autosave_cell_every=30, **kwargs):
        nb_man = NotebookExecutionManager(
            nb,
            output_path=output_path,
            progress_bar=progress_bar,
            log_output=log_output,
            autosave_cell_every=autosave_cell_every,
        )
        nb_man.notebook_start()
        try:
            cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
        except Exception as err:
            # papermill marks a timed-out cell "completed" on its way out; the cell that
            # was running is the last one that started.
            started = [
                i for i, c in enumerate(nb_man.nb.cells)
                if c.metadata.get("papermill", {}).get("start_time")
            ]
            running = started[-1] if started else None
            if running is not None:
                nb_man.cell_exception(nb_man.nb.cells[running], cell_index=running)
            err.notebook = nb_man.nb
            err.cell_index = running
            raise
        finally:
            nb_man.cleanup_pbar()
            nb_man.notebook_complete()
        return nb_man.nb


@dataclass
class _Warm:
    km: AsyncKernelManager
    kc: Any
    cwd: str


class WarmEngine(KeepingEngine):
    """One kernel per worker process, reused across targets (see the module docstring)."""

    # Keyed by (kernel name, cwd). Process-local by nature: a Dask worker is one process.
    _kernels: ClassVar[dict[tuple[str, str], _Warm]] = {}

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                 stderr_file=None, start_timeout=60, execution_timeout=None,
                                 **kwargs):
        kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
        cwd = os.getcwd()  # papermill has already chdir'd into the requested cwd
        key = (kernel_name, cwd)
        warm = cls._kernels.get(key)
        client = PapermillNotebookClient(
            nb_man,
            **merge_kwargs(
                kwargs,
                km=warm.km if warm else AsyncKernelManager(kernel_name=kernel_name),
                timeout=execution_timeout,
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=log,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
            ),
        )
        if warm is not None:
            client.kc = warm.kc
            try:
                cls._reset(client)
            except Exception:  # noqa: BLE001 - a kernel that cannot reset is replaced
                log.warning("warm kernel did not reset; starting a fresh one")
                cls.discard(kernel_name, cwd)
                return cls.execute_managed_notebook(
                    nb_man, kernel_name, log_output=log_output, stdout_file=stdout_file,
                    stderr_file=stderr_file, start_timeout=start_timeout,
                    execution_timeout=execution_timeout, **kwargs,
                )
        try:
            client.execute(cwd=cwd)
        except BaseException:
            cls._keep(key, client)
            cls.discard(kernel_name, cwd)
            raise
        cls._keep(key, client)
        if nb_man.nb.metadata.get("papermill", {}).get("exception"):
            # A failed target may have left anything behind: the next one gets a new kernel.
            cls.discard(kernel_name, cwd)
        return nb_man.nb

    @classmethod
    def _keep(cls, key: tuple[str, str], client: PapermillNotebookClient) -> None:
        if client.km is not None and client.kc is not None:
            cls._kernels[key] = _Warm(client.km, client.kc, key[1])

    @classmethod
    def _reset(cls, client: PapermillNotebookClient) -> None:
        reply = run_sync(client.kc.execute_interactive)(_RESET, silent=True, store_history=False, timeout=30)
        if reply["content"].get("status") != "ok":
            raise RuntimeError(f"reset failed: {reply['content'].get('evalue')}")

    @classmethod
    def discard(cls, kernel_name: str | None = None, cwd: str | None = None) -> None:
        """Shut down warm kernels (all of them, or one); the next target starts afresh."""
        for key in list(cls._kernels):
            if (kernel_name is None or key[0] == kernel_name) and (cwd is None or key[1] == cwd):
                warm = cls._kernels.pop(key)
                try:
                    warm.kc.stop_channels()
                    run_sync(warm.km.shutdown_kernel)(now=True)
                except Exception:  # noqa: BLE001 - already dead is fine
                    log.debug("kernel %s was already gone", key)


def register_engines() -> None:
    """Register our engines with Papermill under their own names (idempotent)."""
    papermill_engines.register(ENGINE, KeepingEngine)
    papermill_engines.register(WARM_ENGINE, WarmEngine)
