"""Sub-mixtures and label posteriors, always in log space ([LKC25] §1.3, §3.2).

``p^S = sum_{theta in S} (w_theta / w(S)) p^theta`` and the label posterior
``pi_t(theta | y) = w_theta p_t^theta(y) / p_t(y)`` (theory.md §1.3). Sets enter as boolean
masks of shape ``(K,)`` so that changing a set never recompiles.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax.nn import logsumexp

NEG_INF = -jnp.inf


def _expand(v, ndim):
    return jnp.reshape(v, v.shape + (1,) * (ndim - 1))


def log_set_weights(log_weights, mask):
    """``log(w_theta / w(S))`` for ``theta`` in ``S`` and ``-inf`` outside.

    Args:
        log_weights: ``(K,)`` log weights.
        mask: ``(K,)`` boolean mask of ``S`` (non-empty, positive weight).

    Returns:
        ``(K,)`` normalised log weights of the sub-mixture.
    """
    lw = jnp.where(mask, log_weights, NEG_INF)
    return lw - logsumexp(lw)


def log_submixture(log_weights, log_tables, mask):
    """``log p^S`` from the component log-laws (clean or noised).

    Args:
        log_weights: ``(K,)`` log weights.
        log_tables: ``(K, *support)`` component log-pmfs, e.g. ``View.log_noised``.
        mask: ``(K,)`` boolean mask of ``S``.

    Returns:
        ``(*support)``, the log-pmf of the sub-mixture ``p^S`` (or ``p_t^S``).
    """
    lw = log_set_weights(log_weights, mask)
    return logsumexp(_expand(lw, log_tables.ndim) + log_tables, axis=0)


def log_mixture(log_weights, log_tables):
    """``log p`` (or ``log p_t``): the full mixture of the component log-laws."""
    return logsumexp(_expand(log_weights, log_tables.ndim) + log_tables, axis=0)


def log_label_posterior(log_weights, log_noised):
    """``log pi_t(theta | z)`` for every component and observation.

    Args:
        log_weights: ``(K,)`` log weights.
        log_noised: ``(K, *Z)`` noised component log-pmfs.

    Returns:
        ``(K, *Z)``; outside ``supp p_t`` (where the posterior is undefined) every entry is
        ``-inf`` so that nothing downstream is charged there.
    """
    joint = _expand(log_weights, log_noised.ndim) + log_noised
    log_pt = logsumexp(joint, axis=0)
    return jnp.where(jnp.isneginf(log_pt), NEG_INF, joint - log_pt)


def log_set_posterior(log_weights, log_noised, mask):
    """``log pi_t(S | z) = log sum_{theta in S} pi_t(theta | z)``, shape ``(*Z)``."""
    post = log_label_posterior(log_weights, log_noised)
    return logsumexp(jnp.where(_expand(mask, post.ndim), post, NEG_INF), axis=0)


def label_law(log_weights, log_noised, mask):
    """``E_{Y ~ p_t^S}[pi_t(theta | Y)]`` for every ``theta``: the label law of ``X^{S,t}``.

    theory.md §1.4: this is the probability that the forward-reverse output started from
    ``p^S`` lands in component ``theta``.

    Returns:
        ``(K,)`` probabilities summing to 1.
    """
    log_ps = log_submixture(log_weights, log_noised, mask)
    post = log_label_posterior(log_weights, log_noised)
    axes = tuple(range(1, post.ndim))
    return jnp.exp(logsumexp(log_ps[None] + post, axis=axes))
