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

What a warm kernel resets before each target, and what it cannot:

- Reset: the user namespace (IPython's ``reset``, as ``%reset -f``, with a new history
  session so the input history is emptied and execution counts restart at 1, exactly as
  on a fresh kernel), the working directory, ``sys.path``, ``os.environ`` and the
  warnings filters (restored to what they were when the kernel started), and pyplot's
  open figures. So a variable, an import alias, a class or function defined in the
  notebook (and any attribute patched onto it) are gone for the next target.
- Not reset: state held by *imported modules*, which stay imported (that is the point).
  An attribute monkeypatched onto a library module (``json.dumps = ...``, ``lib.x.Y =
  ...``), pandas options, matplotlib ``rcParams``, a module-level cache or registry that a
  notebook mutates, threads it started: all persist into the next target on that kernel.
  So does the snapshot that ``lib.report.open_snapshot`` caches (at most two) for every
  target of the kernel: a notebook that changed its frames in place would change them
  for the next target. That is why ``lib/`` modules hold no mutable state (their caches
  are pure functions of their arguments, the snapshot keyed by path and mtime, and only
  ever read: ``report.scope`` makes copies) and notebooks only call them; a report whose
  notebook must change process-wide state runs with ``--isolated``.

Started ahead: a run that will execute its targets in this process (one target, or one
worker) calls :meth:`WarmEngine.prestart` while it still reads the snapshot and resolves
the targets. The kernel boots and imports the modules the notebook imports (``preload``)
meanwhile, so the first target finds it as every later target finds a warm kernel:
modules imported, user namespace empty, execution count 1. A preload import that fails is
ignored (the notebook's own import then fails in its cell, as on a fresh kernel); a kernel
that died or never answered is replaced by a fresh one when the target starts.

Memory stays flat over a long fan-out: the namespace is emptied and collected after each
target, and the objects that survive a target's reset (imported modules, the cached
snapshot) are moved to the garbage collector's permanent generation (``gc.freeze``), so
collecting after each target costs milliseconds instead of a full traversal of a heap of
~400k objects (0.3-0.8 s per target). Every ``FULL_GC_EVERY`` targets the heap is
unfrozen and collected in full, which bounds what a cycle among frozen objects could hold.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from queue import Empty
from typing import Any, ClassVar

from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.util import run_sync
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines
from papermill.utils import merge_kwargs, remove_args

log = logging.getLogger(__name__)

ENGINE = "broadsheet"
WARM_ENGINE = "broadsheet-warm"

# Installed once in each warm kernel, as the module ``_broadsheet_warm``: a module, not
# names in the user namespace, so it survives the resets it performs and no target sees it.
_KERNEL_MODULE = '''\
"""The warm kernel's side of runner/engines.py: baseline state and the reset."""
import gc
import os
import sys
import warnings

from IPython import get_ipython

CWD = os.getcwd()
PATH = list(sys.path)
ENVIRON = dict(os.environ)
FILTERS = list(warnings.filters)
resets = 0


def preload(names):
    # Modules the notebook imports, imported before its first target. Failures are left
    # for the notebook's own import to raise, in its own cell.
    import importlib

    for name in names:
        try:
            importlib.import_module(name)
        except Exception:
            pass


def reset(full_gc_every):
    global resets
    # %reset -f, plus a new history session: input history emptied, execution count 1.
    get_ipython().reset(new_session=True)
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
    os.chdir(CWD)
    sys.path[:] = PATH
    if dict(os.environ) != ENVIRON:
        os.environ.clear()
        os.environ.update(ENVIRON)
    if warnings.filters != FILTERS:
        warnings.resetwarnings()  # also invalidates the per-module "already warned" caches
        warnings.filters[:] = FILTERS
    resets += 1
    if resets % full_gc_every == 0:
        gc.unfreeze()
    # The target's cycles became garbage only now that its namespace is gone (reset's own
    # collection runs before it clears the namespace). Once the survivors are frozen this
    # traverses only what the target created.
    gc.collect()
    if resets == 1 or resets % full_gc_every == 0:
        # What survives a reset is long-lived: modules, the cached snapshot.
        gc.freeze()
'''
_INSTALL = (
    "import sys as _bs_sys, types as _bs_types\n"
    "_bs_mod = _bs_types.ModuleType('_broadsheet_warm')\n"
    f"exec({_KERNEL_MODULE!r}, _bs_mod.__dict__)\n"
    "_bs_sys.modules['_broadsheet_warm'] = _bs_mod\n"
    "del _bs_sys, _bs_types, _bs_mod\n"
)


class KeepingEngine(NBClientEngine):
    """Papermill's nbclient engine that keeps the partly executed notebook on any failure.

    Papermill saves the notebook when a cell raises, but a cell timeout or a dead kernel
    propagate before anything is written. This engine hangs the notebook, with each
    cell's papermill status, on the exception (``err.notebook``) and the index of the
    cell that was running (``err.cell_index``), so the runner can keep it and name it.
    """

    @classmethod
    def execute_notebook(
        cls,
        nb,
        kernel_name,
        output_path=None,
        progress_bar=True,
        log_output=False,
        autosave_cell_every=30,
        **kwargs,
    ):
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
                i
                for i, c in enumerate(nb_man.nb.cells)
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
    """A kernel kept between targets, with the client connected to it."""

    km: AsyncKernelManager
    kc: Any = None
    owner: int = 0  # pid that started it: a forked child must not drive its parent's kernel
    # Started ahead (prestart): the id of the install-and-preload request not yet answered.
    pending: str | None = None


class WarmEngine(KeepingEngine):
    """One kernel per worker process, reused across targets (see the module docstring).

    For IPython kernels (``python3``, which the runner uses): the reset is Python code.

    Kernels are keyed by (kernel name, cwd, thread): a Dask worker runs its tasks on one
    thread (``--nthreads 1``), and a worker given more threads gets a kernel per thread
    rather than two targets interleaved in one namespace.
    """

    _kernels: ClassVar[dict[tuple[str, str, int], _Warm]] = {}
    # How often the kernel's heap is unfrozen and collected in full (see the module doc).
    FULL_GC_EVERY: ClassVar[int] = 50
    # Seconds the reset between targets may take; longer means the kernel is unwell.
    RESET_TIMEOUT: ClassVar[int] = 30
    # Seconds a kernel started ahead may take to boot and preload (imports on a busy host).
    PRELOAD_TIMEOUT: ClassVar[int] = 180
    # Kernels started by this process (a reused kernel does not count): what a test of
    # reuse asserts on, never a duration.
    started: ClassVar[int] = 0

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man,
        kernel_name,
        log_output=False,
        stdout_file=None,
        stderr_file=None,
        start_timeout=60,
        execution_timeout=None,
        **kwargs,
    ):
        kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
        cwd = os.getcwd()  # papermill has already chdir'd into the requested cwd
        key = (kernel_name, cwd, threading.get_ident())
        warm = cls._ready(key)
        client = PapermillNotebookClient(
            nb_man,
            **merge_kwargs(
                kwargs,
                # A km passed in is not owned by the client, so it leaves the kernel running.
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
        try:
            if warm is None:
                warm = cls._start(key, client, cwd)
            else:
                client.kc = warm.kc
            client.execute(cwd=cwd)
        except BaseException:
            # A timed-out cell leaves the kernel busy, a dead one is gone, an interrupted
            # run may be anywhere: never reuse it.
            cls._discard_keys([key])
            raise
        finally:
            # The client lives for one target; drop its references to the kept kernel.
            client.kc = None
        if nb_man.nb.metadata.get("papermill", {}).get("exception"):
            # A failed target may have left anything behind: the next one gets a new kernel.
            cls._discard_keys([key])
        return nb_man.nb

    @classmethod
    def _ready(cls, key: tuple[str, str, int]) -> _Warm | None:
        """The kept kernel for ``key``, reset for a new target; None if there is none."""
        warm = cls._kernels.get(key)
        if warm is None:
            return None
        if warm.owner != os.getpid():
            # Inherited through fork: the parent's kernel and sockets are not ours to use.
            del cls._kernels[key]
            return None
        if warm.pending is not None:
            # Started ahead: fresh, so nothing to reset; wait for its boot and preload.
            try:
                run_sync(cls._async_reply)(warm, warm.pending, cls.PRELOAD_TIMEOUT)
                # nbclient runs wait_for_ready only on kernels it starts itself: it proves
                # IOPub is subscribed (a cell's "idle" published before that is lost, and
                # the cell then times out waiting for it) and drains the preload's messages.
                run_sync(warm.kc.wait_for_ready)(timeout=cls.PRELOAD_TIMEOUT)
            except Exception as err:  # noqa: BLE001 - a kernel that did not start is replaced
                log.warning("kernel started ahead did not come up (%s); starting afresh", err)
                cls._discard_keys([key])
                return None
            warm.pending = None
            return warm
        try:
            # A kernel that died while idle would only answer the reset with a timeout.
            if not run_sync(warm.km.is_alive)():
                raise RuntimeError("the kernel died between targets")
            cls._run(warm, f"__import__('_broadsheet_warm').reset({cls.FULL_GC_EVERY})")
        except Exception as err:  # noqa: BLE001 - a kernel that cannot reset is replaced
            log.warning("warm kernel could not be reset (%s); starting a fresh one", err)
            cls._discard_keys([key])
            return None
        return warm

    @classmethod
    def prestart(
        cls, kernel_name: str, cwd: str | os.PathLike, preload: Sequence[str] = ()
    ) -> bool:
        """Start the kernel for the next target run on this thread in ``cwd``; do not wait.

        The kernel boots, installs the reset and imports ``preload`` while the caller goes
        on; the target that comes to use it waits for that to finish (see the module
        docstring). Does nothing when this thread already keeps a kernel for ``cwd``.

        Returns:
            Whether a kernel was started. Never raises: a kernel that cannot start here
            is started (and its error reported) by the target, as without a prestart.
        """
        cwd = os.path.realpath(cwd)  # papermill chdirs there; the key is os.getcwd() then
        key = (kernel_name, cwd, threading.get_ident())
        if key in cls._kernels:
            return False
        warm = None
        try:
            km = AsyncKernelManager(kernel_name=kernel_name)
            # The history argument nbclient gives every kernel it starts.
            history = f"--HistoryManager.hist_file={NotebookClient.ipython_hist_file.default_value}"
            run_sync(km.start_kernel)(extra_arguments=[history], cwd=cwd)
            warm = cls._kernels[key] = _Warm(km, owner=os.getpid())
            cls.started += 1
            warm.kc = km.client()
            warm.kc.start_channels()
            warm.kc.allow_stdin = False
            code = _INSTALL + f"__import__('_broadsheet_warm').preload({list(preload)!r})\n"
            # Queued by ZeroMQ until the kernel listens; answered once it has run.
            warm.pending = warm.kc.execute(
                code, silent=True, store_history=False, allow_stdin=False
            )
        except Exception as err:  # noqa: BLE001 - the target starts its own kernel instead
            log.warning("could not start a kernel ahead (%s); the target will start one", err)
            if warm is not None:
                cls._discard_keys([key])
            return False
        return True

    @classmethod
    def kernel_pid(cls, kernel_name: str, cwd: str | os.PathLike) -> int | None:
        """The process id of the kernel this thread keeps for ``cwd``, if any."""
        warm = cls._kernels.get((kernel_name, os.path.realpath(cwd), threading.get_ident()))
        return _pid(warm) if warm else None

    @classmethod
    def kernel_pids(cls) -> list[int]:
        """The process ids of the kernels this process keeps."""
        pids = (_pid(w) for w in cls._kernels.values() if w.owner == os.getpid())
        return sorted(pid for pid in pids if pid is not None)

    @classmethod
    def _start(cls, key: tuple[str, str, int], client: PapermillNotebookClient, cwd: str) -> _Warm:
        """Start a kernel through ``client`` (as papermill would) and keep it."""
        client.start_new_kernel(cwd=cwd)
        # Kept before anything else can fail, so every failure below shuts it down.
        warm = cls._kernels[key] = _Warm(client.km, owner=os.getpid())
        cls.started += 1
        client.start_new_kernel_client()
        warm.kc = client.kc
        cls._run(warm, _INSTALL)
        return warm

    @classmethod
    def _run(cls, warm: _Warm, code: str) -> None:
        """Run ``code`` silently on the kernel: no history, no outputs, no count.

        Raises:
            RuntimeError: the code raised, the kernel died, or no reply came in
                ``RESET_TIMEOUT`` seconds.
        """
        msg_id = warm.kc.execute(code, silent=True, store_history=False, allow_stdin=False)
        run_sync(cls._async_reply)(warm, msg_id, cls.RESET_TIMEOUT)

    @classmethod
    async def _async_reply(cls, warm: _Warm, msg_id: str, timeout: float) -> None:
        """Wait for the reply to the silent request ``msg_id``; raise unless it is ok."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                reply = await warm.kc.get_shell_msg(timeout=0.5)
            except Empty:
                # A kernel killed a moment ago may still have passed the liveness check
                # before the reset was sent: look again rather than wait out the timeout.
                if not await warm.km.is_alive():
                    raise RuntimeError("the kernel died") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no reply in {timeout:.0f} s") from None
                continue
            if reply["parent_header"].get("msg_id") != msg_id:
                continue  # a late reply to something earlier; nbclient skips these too
            content = reply["content"]
            if content.get("status") != "ok":
                raise RuntimeError(f"{content.get('ename')}: {content.get('evalue')}")
            # Its iopub messages (busy, idle) are left for nbclient, which skips messages
            # of other requests.
            return

    @classmethod
    def discard(cls, kernel_name: str | None = None, cwd: str | None = None) -> None:
        """Shut down warm kernels (all of them, or one); the next target starts afresh."""
        cls._discard_keys(
            [
                key
                for key in cls._kernels
                if (kernel_name is None or key[0] == kernel_name) and (cwd is None or key[1] == cwd)
            ]
        )

    @classmethod
    def _discard_keys(cls, keys: list[tuple[str, str, int]]) -> None:
        for key in keys:
            warm = cls._kernels.pop(key, None)
            if warm is None or warm.owner != os.getpid():
                continue
            try:
                if warm.kc is not None:
                    warm.kc.stop_channels()
                # now=True: a busy (timed-out) kernel would not answer a polite request.
                run_sync(warm.km.shutdown_kernel)(now=True)
            except Exception:  # noqa: BLE001 - already dead is fine
                log.debug("kernel %s was already gone", key)
                # Connection file and ports, which shutdown_kernel frees on success.
                with contextlib.suppress(Exception):
                    run_sync(warm.km.cleanup_resources)()


def _pid(warm: _Warm) -> int | None:
    return getattr(getattr(warm.km, "provisioner", None), "pid", None)


def register_engines() -> None:
    """Register our engines with Papermill under their own names (idempotent)."""
    papermill_engines.register(ENGINE, KeepingEngine)
    papermill_engines.register(WARM_ENGINE, WarmEngine)
