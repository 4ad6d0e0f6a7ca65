"""Shared helpers for benchmarks: timing and JSON output."""

import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def rate(fn, items_per_call, *, warmup=2, min_seconds=10.0, max_calls=10_000):
    """Items per second of ``fn`` after ``warmup`` calls, timed for at least min_seconds."""
    for _ in range(warmup):
        fn()
    calls, start = 0, time.perf_counter()
    while calls < max_calls and (time.perf_counter() - start < min_seconds or calls < 3):
        fn()
        calls += 1
    return calls * items_per_call / (time.perf_counter() - start)


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def emit(result):
    print(json.dumps(result, indent=2))
    return result
