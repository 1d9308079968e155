"""How the benchmarks give a latency: percentiles of the seconds measured, as figures for
JSON and as the "p50 / p95" text the evaluation and the load tests print."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

Percentiles = dict[str, float | None]
"""{"p50": seconds, "p95": seconds, ...}; None where there was nothing to measure"""


def percentile_figures(values: Sequence[float], at: Sequence[int] = (50, 95)) -> Percentiles:
    """The percentiles `at` of `values`, keyed "p50", "p95", ..., in seconds to 3 decimals;
    None each for no values."""
    keys = [f"p{p}" for p in at]
    if not values:
        return dict.fromkeys(keys)
    return {k: round(v, 3) for k, v in zip(keys, np.percentile(values, at).tolist(), strict=True)}


def format_percentiles(figures: Iterable[float | None]) -> str:
    """ "0.41 / 1.20 / ...": each figure to two decimals, "-" for a missing one."""
    return " / ".join("-" if v is None else f"{v:.2f}" for v in figures)


def percentiles(values: Sequence[float], at: Sequence[int] = (50, 95)) -> str:
    """ "p50 / p95" (or the percentiles `at`) of `values` in seconds, two decimals; "-" for
    none."""
    if not values:
        return "-"
    return format_percentiles(np.percentile(values, at).tolist())
