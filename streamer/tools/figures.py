"""How the benchmarks print a latency: the same "p50 / p95" for the evaluation and the load
tests."""

from __future__ import annotations

import numpy as np


def percentiles(values: list[float]) -> str:
    """ "p50 / p95" of `values` in seconds, two decimals; "-" for none."""
    if not values:
        return "-"
    p50, p95 = np.percentile(values, [50, 95])
    return f"{p50:.2f} / {p95:.2f}"
