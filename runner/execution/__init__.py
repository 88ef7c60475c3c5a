"""Execution: one notebook per target, many targets at once.

- ``execute``: Papermill on one notebook (parameters checked against its ``parameters``
  cell first), the failing cell mapped back to the source notebook.
- ``engines``: our Papermill engines, registered under their own names (``broadsheet``,
  and ``broadsheet-warm``, one kernel per worker reset between targets).
- ``job``: one target end to end (execute, render every output format, ``figures.json``)
  and its :class:`~runner.execution.job.TargetResult`.
- ``fanout``: the targets of a run across Dask workers, with a progress bar.

Modules are imported by name (``from runner.execution import fanout``): this package
re-exports nothing, so importing one never pulls in Papermill or Dask for another.
"""
