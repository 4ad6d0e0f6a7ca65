"""Checking image files in worker processes that may die, with memory for each.

``checked(fn, jobs, workers)`` yields ``fn(job)`` in the order of ``jobs``, computed by
up to ``workers`` processes with a bounded number of jobs in flight. A worker killed
(the OOM killer, a signal) breaks the pool: the jobs that were in flight are then run
again one at a time in a fresh single process, and the one that kills it again is
named in a DataError (``WorkerKilled``) instead of convert waiting forever.

``memory_capped_workers`` lowers the worker count so that each worker has room for the
largest image it may decode (``max_pixels``, ``max_bytes``) in the available memory.
"""

import collections
import concurrent.futures
import logging
import multiprocessing
import os
from concurrent.futures.process import BrokenProcessPool

from jacktf.core.errors import DataError

log = logging.getLogger('jacktf')
BYTES_PER_PIXEL = 8        # decoded RGB(A) plus the converted copy, with slack
WORKER_OVERHEAD = 200 << 20  # a forked worker's own memory


class WorkerKilled(DataError):
    """A worker process died while checking one file."""


def available_memory():
    """Bytes of memory available to new allocations (MemAvailable), or None."""
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemAvailable:'):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf('SC_AVPHYS_PAGES') * os.sysconf('SC_PAGE_SIZE')
    except (ValueError, OSError, AttributeError):
        return None


def memory_capped_workers(requested, max_pixels, max_bytes, memory=None):
    """``requested`` workers, fewer when the memory cannot hold that many worst cases."""
    memory = available_memory() if memory is None else memory
    if not memory:
        return requested
    per_worker = max_pixels * BYTES_PER_PIXEL + max_bytes + WORKER_OVERHEAD
    fits = max(1, memory // per_worker)
    if fits < requested:
        log.info('convert: %d workers instead of %d: each may decode an image of up to '
                 '%d pixels (--max_pixels) in %.1f GB of available memory', fits,
                 requested, max_pixels, memory / 2 ** 30)
        return int(fits)
    return requested


def _pool(workers):
    method = 'fork' if 'fork' in multiprocessing.get_all_start_methods() else None
    return concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context(method))


def _culprit(fn, jobs, name):
    """Runs ``jobs`` one at a time in fresh processes; raises WorkerKilled naming the
    first that kills its process; returns {index: result} of the others."""
    results = {}
    for index, job in jobs:
        with _pool(1) as pool:
            try:
                results[index] = pool.submit(fn, job).result()
            except BrokenProcessPool:
                raise WorkerKilled(
                    f'{name(job)}: the process checking this file was killed (out of '
                    'memory? the kernel log says: dmesg | grep -i kill). Remove or shrink '
                    'the file, or lower --max_pixels / --workers.') from None
    return results


def checked(fn, jobs, workers, name=str, window=None):
    """Yields ``fn(job)`` for each job, in order, computed by ``workers`` processes.

    Args:
      fn: a module-level function (run in the workers).
      jobs: the arguments, one per call.
      workers: processes to use (1: in this process).
      name: job -> how to name it in the error (the file path).
      window: jobs in flight at once (default 4 per worker).

    Raises:
      WorkerKilled: a worker died on a job (the message names it).
    """
    if workers <= 1:
        yield from map(fn, jobs)
        return
    window = window or 4 * workers
    pending, queue = collections.deque(), iter(enumerate(jobs))
    pool = _pool(workers)
    try:
        while True:
            while len(pending) < window:
                item = next(queue, None)
                if item is None:
                    break
                pending.append((item, pool.submit(fn, item[1])))
            if not pending:
                return
            (index, job), future = pending[0]
            try:
                result = future.result()
            except BrokenProcessPool:
                pool.shutdown(wait=False, cancel_futures=True)
                redone = _culprit(fn, [item for item, _ in pending], name)
                pending.clear()
                for i in sorted(redone):
                    yield redone[i]
                pool = _pool(workers)
                continue
            pending.popleft()
            yield result
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
