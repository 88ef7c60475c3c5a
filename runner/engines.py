"""Papermill engines of our own, registered under their own names.

Papermill's default engine stays as it is (never overwrite a third party's global entry);
ours is chosen with ``engine_name=``. Registration is explicit, done by the entry point
that runs notebooks, not as an import side effect.
"""

from __future__ import annotations

from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines

ENGINE = "broadsheet"


class KeepingEngine(NBClientEngine):
    """Papermill's nbclient engine that keeps the partly executed notebook on any failure.

    Papermill saves the notebook when a cell raises, but a cell timeout or a dead kernel
    propagate before anything is written. This engine hangs the notebook, with each
    cell's papermill status, on the exception (``err.notebook``), so the runner can keep
    it and name the cell that was running.
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


def register_engines() -> None:
    """Register our engines with Papermill under their own names (idempotent)."""
    papermill_engines.register(ENGINE, KeepingEngine)
