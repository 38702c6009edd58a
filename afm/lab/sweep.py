"""Independent runs (seeds × methods × settings) on every local core, or on a Dask cluster.

:func:`run_many` maps a function over argument tuples with joblib: ``jobs=1``
runs in this process, ``jobs=J`` in ``J`` local worker processes, and
``scheduler="tcp://host:8786"`` sends the same tasks to a Dask cluster through
joblib's ``dask`` backend. Every task runs with one PyTorch thread, whatever
the backend, so the numbers do not depend on how the work was spread: a sweep
gives bit-identical results serially, with ``--jobs 2`` and on a cluster.

Results land in the same on-disk cache (:mod:`afm.lab.cache`) as the chapters',
because the tasks themselves call the cached functions (:func:`cached_map`'s
``kind``: ``afm.lab.runs.fit`` and the figure functions). On a real cluster, point ``AFM_CACHE_DIR`` of the workers
and of the client at one shared filesystem (NFS, Lustre, ...), and give the
workers the data (``AFM_DATA_DIR``); see the README.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import torch

#: Threads per task: fixed, so that a result never depends on how the sweep was spread.
THREADS_PER_TASK = 1


#: Settings the client passes to every task (reused workers keep the environment they started
#: with, so the client's cache folder, data folder and profile travel with each task).
PASSED_ENV = ("AFM_CACHE_DIR", "AFM_DATA_DIR", "AFM_OFFLINE", "AFM_PROFILE", "AFM_PROGRESS",
              "AFM_RECOMPUTE", "AFM_DEBIAN_FASHION_DIR")


def _single_threaded(fn: Callable, args: tuple, env: dict[str, str | None] | None = None) -> Any:
    previous = torch.get_num_threads()
    saved = {k: os.environ.get(k) for k in (env or {})}
    _set_env(env or {})
    torch.set_num_threads(THREADS_PER_TASK)
    try:
        return fn(*args)
    finally:
        torch.set_num_threads(previous)
        _set_env(saved)


def _set_env(env: dict[str, str | None]) -> None:
    for key, value in env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def default_jobs() -> int:
    """``AFM_JOBS`` if set, else the number of CPU cores."""
    value = os.environ.get("AFM_JOBS", str(os.cpu_count() or 1))
    try:
        jobs = int(value)
    except ValueError:
        raise ValueError(f"AFM_JOBS must be a whole number of parallel jobs, got {value!r}") from None
    if jobs < 1 and jobs != -1:
        raise ValueError(f"AFM_JOBS must be >= 1 (or -1 for every core), got {jobs}")
    return jobs


def run_many(fn: Callable, arg_list: Sequence[tuple], jobs: int | None = None,
             scheduler: str | None = None, progress: bool = True, desc: str = "runs") -> list:
    """``[fn(*args) for args in arg_list]``, spread over ``jobs`` processes or a Dask cluster.

    Args:
        fn: a module-level function (it is pickled to the workers).
        arg_list: one tuple of arguments per task.
        jobs: local worker processes (default ``default_jobs()``); ``-1`` for every core.
        scheduler: a Dask scheduler address (``tcp://host:8786``) or a
            ``distributed.Client``; when given, ``jobs`` is ignored and the cluster runs the tasks.
        progress: a tqdm bar over the tasks.

        desc: the label of the progress bar.

    Returns:
        The results, in the order of ``arg_list``.

    Example:
        >>> run_many(pow, [(2, 3), (3, 2), (10, 0)], jobs=1, progress=False)
        [8, 9, 1]
    """
    from joblib import Parallel, delayed, parallel_config
    from tqdm import tqdm

    env = {k: os.environ.get(k) for k in PASSED_ENV}
    tasks = [delayed(_single_threaded)(fn, tuple(args), env) for args in arg_list]
    bar = tqdm(total=len(tasks), desc=desc, disable=not progress or len(tasks) < 2, leave=False)
    if scheduler is not None:
        client = _client(scheduler)
        with parallel_config(backend="dask", wait_for_workers_timeout=60):
            results = Parallel(return_as="generator")(tasks)
            out = [_tick(bar, r) for r in results]
        if isinstance(scheduler, str):
            client.close()
    else:
        jobs = default_jobs() if jobs is None else jobs
        if jobs == 1 or len(tasks) == 1:
            out = [_tick(bar, _single_threaded(fn, tuple(args))) for args in arg_list]
        else:
            out = [_tick(bar, r) for r in Parallel(n_jobs=jobs, return_as="generator")(tasks)]
    bar.close()
    return out


def _cached_task(kind: str, fn: Callable, spec: Any, key: Callable) -> None:
    from afm.lab.cache import cached

    cached(kind, key(spec), lambda: fn(spec))


def cached_map(kind: str, fn: Callable, specs: Sequence, key: Callable, jobs: int | None = None,
               scheduler=None, desc: str = "runs") -> list:
    """``[cached(kind, key(s), lambda: fn(s)) for s in specs]``: the specs not yet in the
    result cache are computed first, in parallel (:func:`run_many`; each distinct spec once),
    then every result is loaded from the cache, in the order of ``specs``.

    Args:
        kind: the cache's name for these results (e.g. ``"run"``).
        fn: a module-level function ``spec -> result`` (it is pickled to the workers).
        specs: hashable specifications (frozen dataclasses).
        key: ``spec -> JSON-able dict``, the cache configuration of a spec.
        jobs, scheduler, desc: as in :func:`run_many`.

    Example:
        >>> cached_map("demo_squares", abs, [-3, 2, -3], lambda s: {"n": s}, jobs=1)
        [3, 2, 3]
    """
    from afm.lab.cache import cached, is_cached

    todo = [s for s in dict.fromkeys(specs) if not is_cached(kind, key(s))]
    if todo:
        run_many(_cached_task, [(kind, fn, s, key) for s in todo], jobs=jobs, scheduler=scheduler,
                 desc=f"{len(todo)} {desc}")
    return [cached(kind, key(s), lambda s=s: fn(s)) for s in specs]


def _tick(bar, result):
    bar.update(1)
    return result


def _client(scheduler):
    try:
        from distributed import Client
    except ImportError as err:
        raise ImportError("a sweep on a Dask cluster (scheduler=..., afm run --scheduler) needs "
                          "dask.distributed, the optional extra [cluster]: pip install -e '.[cluster]' "
                          "(or pip install 'dask[distributed]')") from err
    if isinstance(scheduler, Client):
        return scheduler
    if not isinstance(scheduler, str) or "://" not in scheduler:
        raise ValueError(f"scheduler must be an address like 'tcp://10.0.0.5:8786', got {scheduler!r}")
    return Client(scheduler, timeout="30s")
