"""Fan the targets of a run out over Dask workers, with progress.

A ``LocalCluster`` of one single-threaded worker process per core by default, or an
existing cluster given by ``--scheduler tcp://HOST:PORT`` whose workers reach the
snapshot and outputs through a shared path. One worker, no scheduler: targets run in
this process, which is what a small run or a debugging session wants.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from runner.execution.engines import WarmEngine
from runner.execution.job import TargetJob, TargetResult, run_target

log = logging.getLogger(__name__)

Progress = Callable[[TargetResult, int, int], None]
# Given a number of workers, a Dask client whose cluster outlives the run.
Cluster = Callable[[int], Any]


def default_workers() -> int:
    """One worker per core (kernels are single-threaded and CPU bound)."""
    return max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )


def in_process(targets: int, *, workers: int | None = None, scheduler: str | None = None) -> bool:
    """Whether :func:`run_all` runs ``targets`` targets in this process (no Dask); 0 targets
    stands for a number not known yet."""
    return scheduler is None and ((workers or default_workers()) == 1 or targets == 1)


def run_all(
    jobs: Sequence[TargetJob],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
    keep_kernels: bool = False,
    cluster: Cluster | None = None,
) -> list[TargetResult]:
    """Run every job; results in the order of ``jobs``. One failure never stops the rest.

    Args:
        jobs: the targets.
        workers: worker processes (default one per core).
        scheduler: a Dask scheduler address (default a local cluster, or this process).
        progress: called after each target with its result, the count done and the total.
        keep_kernels: in process, leave the warm kernel running for the next run (a
            long-lived caller such as the admin's preview worker); else it stops here.
        cluster: a long-lived caller's Dask client for a given number of workers (the
            warm runner's), used instead of a local cluster of this run's own; its workers
            and their warm kernels are left running for the next run.
    """
    if not jobs:
        return []
    if in_process(len(jobs), workers=workers, scheduler=scheduler):
        results = []
        try:
            for i, job in enumerate(jobs, 1):
                result = run_target(job)
                results.append(result)
                if progress:
                    progress(result, i, len(jobs))
        finally:
            if not keep_kernels:
                WarmEngine.discard()
        return results
    workers = workers or default_workers()
    return _run_dask(jobs, workers=workers, scheduler=scheduler, progress=progress, cluster=cluster)


def _run_dask(
    jobs: Sequence[TargetJob],
    *,
    workers: int,
    scheduler: str | None,
    progress: Progress | None,
    cluster: Cluster | None,
) -> list[TargetResult]:
    from dask.distributed import Client, as_completed

    # distributed configures its own loggers at import; a run's log is about targets.
    logging.getLogger("distributed").setLevel(max(logging.WARNING, log.getEffectiveLevel()))

    kept = cluster is not None and not scheduler
    local = None
    if kept:
        client = cluster(workers)
    elif scheduler:
        client = Client(scheduler, timeout="30s")
    else:
        local = LocalWorkers()
        client = local(min(workers, len(jobs)))
    try:
        futures = {
            # pure=False: a rerun must execute again, never reuse a cached result.
            client.submit(
                run_target, job, pure=False, key=f"target-{job.target_id}-{time.monotonic_ns()}"
            ): i
            for i, job in enumerate(jobs)
        }
        results: list[TargetResult | None] = [None] * len(jobs)
        for done, future in enumerate(as_completed(futures), 1):
            i = futures[future]
            try:
                result = future.result()
            except Exception as err:  # noqa: BLE001 - a lost worker fails its target only
                job = jobs[i]
                result = TargetResult(
                    id=job.target_id,
                    name=job.target_name,
                    kind=job.target_kind,
                    status="failed",
                    duration=0.0,
                    error={
                        "cell": None,
                        "ename": type(err).__name__,
                        "evalue": str(err),
                        "message": f"worker failed: {type(err).__name__}: {err}",
                        "notebook": None,
                    },
                )
            results[i] = result
            if progress:
                progress(result, done, len(jobs))
        return [r for r in results if r is not None]
    finally:
        if local is not None:
            local.close()
        elif not kept:
            _discard_kernels(client)
            client.close()


class LocalWorkers:
    """A local Dask cluster of single-threaded worker processes, started on first use: a
    run's own, or one a long-lived caller keeps with its workers' warm kernels (the warm
    runner's), started again when a run asks for another number of workers."""

    def __init__(self) -> None:
        self.client: Any = None
        self.cluster: Any = None
        self.workers = 0

    def __call__(self, workers: int) -> Any:
        """A client of a cluster of ``workers`` workers."""
        if self.client is None or self.workers != workers:
            self.close()
            from dask.distributed import Client, LocalCluster

            self.cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.WARNING,
            )
            self.client, self.workers = Client(self.cluster), workers
        return self.client

    def close(self) -> None:
        """Stop the workers' kernels, then the workers."""
        if self.client is None:
            return
        _discard_kernels(self.client)
        self.client.close()
        self.cluster.close()
        self.client = self.cluster = None


def _discard_kernels(client: Any) -> None:
    # Warm kernels are children of the workers: stop them before the workers go.
    try:
        client.run(WarmEngine.discard)
    except Exception:  # noqa: BLE001 - a worker that is already gone has no kernels
        log.debug("could not reach every worker to stop its kernels")
