"""Thresholds and critical windows on a grid of times ([LKC25] §3.1 and Definition 4).

With ``S_init`` inside ``S_target`` and ``C = Theta - S_target``:

* ``T_start(eps) = sup{t : TV(p_t^{S_target}, p_t^C) >= 1 - eps^2}``;
* ``T_end(eps) = inf{t : TV(p_t^{S_init}, p_t^{S_target}) <= eps}``;
* ``T^C_before = inf{t : TV(p_t^{S_after}, p_t^{S_before}) <= eps and
  TV(p_t^{S_before}, p_t^{Theta - S_before}) >= 1 - eps^2}``;
* ``T^C_after = sup{t : TV(p_t^{S_after}, p_t^{Theta - S_after}) >= 1 - eps^2}``.

Sup and inf are over the given times; ``None`` when no time qualifies. A separation curve of
``None`` means the complement is empty, and its condition counts as met (the paper's
convention in the proof of Theorem 6). The separation test ``TV >= 1 - eps^2`` is done as
``1 - TV <= eps^2`` on the log-overlap when it is given, so it stays right when TV is within
rounding of 1.
"""

from __future__ import annotations

import math

import numpy as np


def _separated(tv, log_overlap, eps, n):
    if tv is None and log_overlap is None:
        return np.ones(n, dtype=bool)
    if log_overlap is not None:
        return np.asarray(log_overlap, dtype=np.float64) <= 2.0 * math.log(eps)
    return np.asarray(tv, dtype=np.float64) >= 1.0 - eps**2


def _first(times, ok):
    idx = np.flatnonzero(ok)
    return float(times[idx[0]]) if idx.size else None


def _last(times, ok):
    idx = np.flatnonzero(ok)
    return float(times[idx[-1]]) if idx.size else None


def t_start(times, tv_target_rest, eps, log_overlap=None):
    """``T_start(eps)``: the last time ``S_target`` is still separated from its complement.

    Args:
        times: ``(n,)`` increasing times.
        tv_target_rest: ``(n,)`` values of ``TV(p_t^{S_target}, p_t^C)``, or ``None`` when the
            complement is empty.
        eps: the error parameter in (0, 1).
        log_overlap: optional ``(n,)`` ``log(1 - TV)``, used for the test when given.

    Returns:
        The time, or ``None`` when no time qualifies.
    """
    times = np.asarray(times, dtype=np.float64)
    return _last(times, _separated(tv_target_rest, log_overlap, eps, times.size))


def t_end(times, tv_init_target, eps):
    """``T_end(eps)``: the first time ``S_init`` and ``S_target`` are ``eps``-close in TV."""
    times = np.asarray(times, dtype=np.float64)
    return _first(times, np.asarray(tv_init_target, dtype=np.float64) <= eps)


def t_before_c(times, tv_after_before, tv_before_rest, eps, log_overlap=None):
    """``T^C_before`` (Definition 4): Theorem 2 with S_init = S_after, S_target = S_before."""
    times = np.asarray(times, dtype=np.float64)
    close = np.asarray(tv_after_before, dtype=np.float64) <= eps
    return _first(times, close & _separated(tv_before_rest, log_overlap, eps, times.size))


def t_after_c(times, tv_after_rest, eps, log_overlap=None):
    """``T^C_after`` of Definition 4 (Theorem 2 with ``S_init = S_target = S_after``)."""
    times = np.asarray(times, dtype=np.float64)
    return _last(times, _separated(tv_after_rest, log_overlap, eps, times.size))


def theorem2_bound(eps: float, w_ratio: float) -> float:
    """The right side of Theorem 2, ``eps (1 + max(1, W) / sqrt 2)``."""
    return eps * (1.0 + max(1.0, w_ratio) / math.sqrt(2.0))
