"""Coordinate-wise masking kernels on dense tensors over ``A^L`` (theory.md §1.2).

A law on ``A^L`` is a tensor with ``L`` axes of length ``A``; its noised law lives on
``(A+1)^L``, the extra symbol ``A`` standing for ``[MASKED]``. The kernel is a tensor
product, so each axis is handled in turn at cost ``O(|Y|)`` and no ``|X| x |Y|`` matrix is
ever formed: this is what lets a pmf on ``4^9`` sequences through.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax.nn import logsumexp


def log_mask_forward(log_pmf, log_q, log_keep, lead: int = 1):
    """Push log-pmfs on ``A^L`` through independent coordinate masking.

    Args:
        log_pmf: ``(*batch, A, ..., A)``, log-probabilities with ``L`` trailing axes.
        log_q: ``(L,)``, log probability that each coordinate is masked.
        log_keep: ``(L,)``, log probability that each coordinate stays visible.
        lead: number of leading batch axes.

    Returns:
        ``(*batch, A+1, ..., A+1)``: the noised log-pmfs, index ``A`` meaning masked.
    """
    out = log_pmf
    length = out.ndim - lead
    for j in range(length):
        ax = lead + j
        visible = out + jnp.expand_dims(log_keep[j], 0)
        masked = logsumexp(out, axis=ax, keepdims=True) + log_q[j]
        out = jnp.concatenate([visible, masked], axis=ax)
    return out


def log_mask_adjoint(log_r, log_q, log_keep):
    """Apply the transpose of the masking kernel: ``x -> log sum_y K(y | x) r(y)``.

    Args:
        log_r: ``(A+1, ..., A+1)``, log of a function on the observation space.
        log_q: ``(L,)`` log masking probabilities.
        log_keep: ``(L,)`` log visibility probabilities.

    Returns:
        ``(A, ..., A)``, the log of the adjoint applied to ``r``.
    """
    out = log_r
    for ax in range(out.ndim):
        n = out.shape[ax]
        visible = jnp.take(out, jnp.arange(n - 1), axis=ax) + log_keep[ax]
        masked = jnp.take(out, jnp.array([n - 1]), axis=ax) + log_q[ax]
        out = jnp.logaddexp(visible, masked)
    return out
