"""Exact divergences between finite laws given as log-pmfs ([LKC25] §1.1, theory.md §1.1).

Every function takes two arrays of log-probabilities of the same shape (all axes are the
support) and reduces over every axis. They are exact for finite laws and for laws on a
*sufficient* reduced space (a partition of the outcomes on which every likelihood ratio is
constant), which is how the structured families stay exact at scale.

Conventions follow the paper: ``H^2(P, Q) = sum (sqrt P - sqrt Q)^2`` without the 1/2, so
``BC = 1 - H^2 / 2``. Values near the ends stay accurate: ``log_overlap`` gives
``log(1 - TV)`` from the minimum of the two log-pmfs, never from ``1 - TV``.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax.nn import logsumexp

from localize.errors import LocalizeError

NEG_INF = -jnp.inf


def _check(log_p, log_q):
    log_p, log_q = jnp.asarray(log_p), jnp.asarray(log_q)
    if log_p.shape != log_q.shape:
        raise LocalizeError(
            f"log_p, log_q: expected arrays of the same shape, got {log_p.shape} and {log_q.shape}"
        )
    return log_p, log_q


def tv(log_p, log_q):
    """Total variation ``TV(P, Q) = 1/2 sum |P - Q|``.

    Args:
        log_p: log-pmf of ``P``.
        log_q: log-pmf of ``Q`` (same shape).

    Returns:
        A float64 scalar in [0, 1].
    """
    log_p, log_q = _check(log_p, log_q)
    return 0.5 * jnp.sum(jnp.abs(jnp.exp(log_p) - jnp.exp(log_q)))


def log_overlap(log_p, log_q):
    """``log(1 - TV(P, Q)) = log sum min(P, Q)``, accurate when TV is within 1e-300 of 1."""
    log_p, log_q = _check(log_p, log_q)
    return logsumexp(jnp.minimum(log_p, log_q))


def bhattacharyya(log_p, log_q):
    """Bhattacharyya coefficient ``BC(P, Q) = sum sqrt(P Q) = 1 - H^2/2`` (Lemma 7)."""
    log_p, log_q = _check(log_p, log_q)
    return jnp.exp(logsumexp(0.5 * (log_p + log_q)))


def hellinger_sq(log_p, log_q):
    """Squared Hellinger distance without the 1/2 factor, ``H^2 = 2 - 2 BC`` in [0, 2]."""
    return jnp.clip(2.0 - 2.0 * bhattacharyya(log_p, log_q), 0.0, 2.0)


def kl(log_p, log_q):
    """``KL(P || Q) = sum P log(P / Q)``; ``inf`` when ``P`` charges a point ``Q`` does not."""
    log_p, log_q = _check(log_p, log_q)
    p = jnp.exp(log_p)
    # 0 log 0 = 0, and a point outside supp Q with P > 0 makes the divergence infinite.
    diff = jnp.where(p > 0, log_p - log_q, 0.0)
    return jnp.maximum(jnp.sum(jnp.where(p > 0, p * diff, 0.0)), 0.0)


def chi_square(log_p, log_q):
    """``chi^2(P || Q) = sum P^2 / Q - 1``; ``inf`` when ``P`` is not dominated by ``Q``."""
    log_p, log_q = _check(log_p, log_q)
    term = jnp.where(jnp.isneginf(log_p), NEG_INF, 2.0 * log_p - log_q)
    return jnp.maximum(jnp.expm1(logsumexp(term)), 0.0)


def posterior_overlap(log_p, log_q):
    """``E_{x~P}[Q/(P+Q)] = sum P Q / (P + Q)``, the left side of Lemmas 1 and 7."""
    log_p, log_q = _check(log_p, log_q)
    log_sum = jnp.logaddexp(log_p, log_q)
    term = jnp.where(jnp.isneginf(log_sum), NEG_INF, log_p + log_q - log_sum)
    return jnp.exp(logsumexp(term))
