"""Small statistics for the lab: nearest-rank percentiles and latency summaries.

Exports: ``percentile``, ``latency_summary``, ``median``, ``CDF_POINTS``.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

__all__ = ["CDF_POINTS", "latency_summary", "median", "percentile"]

#: Quantiles kept per latency distribution for the plots (0.5 % steps and the far tail).
CDF_POINTS: tuple[float, ...] = (
    *(i / 2 for i in range(0, 200)),
    99.5,
    99.9,
    99.99,
    100.0,
)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile ``q`` (0-100) of an already sorted sequence (0.0 if empty)."""
    if not sorted_values:
        return 0.0
    n = len(sorted_values)
    k = min(n - 1, max(0, -(-int(q * n) // 100) - 1 if q > 0 else 0))
    return float(sorted_values[k])


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


def latency_summary(latencies_ns: Sequence[int]) -> dict[str, object]:
    """``{"n", "p50_ms", "p99_ms", "p999_ms", "max_ms", "cdf_ms"}``; latencies below zero
    (clock granularity) count as zero. ``cdf_ms`` pairs ``CDF_POINTS`` with their values."""
    values = sorted(max(0, v) / 1e6 for v in latencies_ns)
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 50), 4),
        "p99_ms": round(percentile(values, 99), 4),
        "p999_ms": round(percentile(values, 99.9), 4),
        "max_ms": round(values[-1], 4) if values else 0.0,
        "cdf_ms": [[q, round(percentile(values, q), 4)] for q in CDF_POINTS] if values else [],
    }
