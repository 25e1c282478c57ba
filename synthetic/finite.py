"""Explicit finite mixtures on ``A^L`` (the generic exact path).

Component ``theta`` is a pmf on sequences of length ``L`` over ``{0..A-1}`` in
lexicographic order, first position most significant. Noised laws live on ``(A+1)^L``
(symbol ``A`` = masked) and are computed coordinate by coordinate
(:mod:`localize.kernels`), so ``4^9`` sequences with 8 components fit in memory.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from jax.nn import logsumexp

from localize.errors import bad
from localize.kernels import log_mask_adjoint, log_mask_forward
from localize.model import Model, View, check_weights
from localize.processes import Process, make_process
from synthetic.registry import Family, register


@dataclasses.dataclass(frozen=True)
class FiniteMixture(Model):
    """A mixture of explicit pmfs on ``A^L``.

    Attributes:
        log_w: ``(K,)`` log weights.
        log_pmfs: ``(K, A, ..., A)`` component log-pmfs with ``L`` sequence axes.
        proc: the observation process.
    """

    log_w: jax.Array
    log_pmfs: jax.Array
    proc: Process

    family = "finite"

    @property
    def log_weights(self):
        return self.log_w

    @property
    def process(self):
        return self.proc

    @property
    def alphabet(self) -> int:
        return int(self.log_pmfs.shape[1])

    @property
    def length(self) -> int:
        return int(self.log_pmfs.ndim - 1)

    def view(self, t) -> View:
        log_q, log_keep = self.proc.log_mask_probs(t)
        return View(self.log_pmfs, log_mask_forward(self.log_pmfs, log_q, log_keep))

    def log_adjoint(self, t, log_r):
        log_q, log_keep = self.proc.log_mask_probs(t)
        return log_mask_adjoint(log_r, log_q, log_keep)

    def log_clean_mixtures(self, t, log_rows):
        return logsumexp(log_rows.reshape(log_rows.shape + (1,) * self.length)
                         + self.log_pmfs[None], axis=1)

    def log_noised_mixtures(self, t, log_rows):
        # Mix on A^L, then noise each mixture once: M kernels instead of K.
        log_q, log_keep = self.proc.log_mask_probs(t)
        return log_mask_forward(self.log_clean_mixtures(t, log_rows), log_q, log_keep)

    def table_size(self) -> int:
        return self.n_components * (self.alphabet + 1) ** self.length

    def describe(self) -> dict:
        return {**super().describe(), "alphabet": self.alphabet, "length": self.length}


jax.tree_util.register_dataclass(
    FiniteMixture, data_fields=["log_w", "log_pmfs"], meta_fields=["proc"]
)


def finite_mixture(weights, pmfs, alphabet: int, length: int, process="truncation",
                   order=None) -> FiniteMixture:
    """Build a finite mixture from explicit pmfs.

    Args:
        weights: ``K`` non-negative weights summing to 1.
        pmfs: ``K`` rows of ``A^L`` probabilities in lexicographic order (first position most
            significant), each summing to 1 within 1e-9.
        alphabet: ``A >= 2``.
        length: ``L >= 1``.
        process: a process name or a :class:`localize.Process` of length ``L``.
        order: the order for ``ordered_masking``.

    Returns:
        A :class:`FiniteMixture`.
    """
    for name, v, lo in (("model.alphabet", alphabet, 2), ("model.length", length, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise bad(name, v, f"an integer >= {lo}")
    if alphabet**length > 2**26:
        raise bad("model.length", length, f"A^L at most 2^26 outcomes (A = {alphabet})")
    w = check_weights(weights, "model.weights")
    try:
        p = np.asarray(pmfs, dtype=np.float64)
    except (TypeError, ValueError):
        raise bad("model.pmfs", "...", "a list of K lists of numbers") from None
    size = alphabet**length
    if p.ndim != 2 or p.shape != (w.size, size):
        raise bad("model.pmfs", f"array of shape {p.shape}",
                  f"{w.size} rows (one per weight) of {size} = {alphabet}^{length} entries")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise bad("model.pmfs", "...", "finite non-negative probabilities")
    sums = p.sum(axis=1)
    if np.any(np.abs(sums - 1.0) > 1e-9):
        i = int(np.argmax(np.abs(sums - 1.0)))
        raise bad(f"model.pmfs[{i}]", f"a row summing to {sums[i]:.12g}", "a row summing to 1")
    proc = process if isinstance(process, Process) else make_process(process, length, order)
    if proc.length != length:
        raise bad("process.length", proc.length, f"the model's length {length}")
    with np.errstate(divide="ignore"):
        log_p = np.log(p).reshape((w.size,) + (alphabet,) * length)
        log_w = np.log(w)
    return FiniteMixture(jnp.asarray(log_w), jnp.asarray(log_p), proc)


def random_finite(key, n_components: int, alphabet: int, length: int, process="truncation",
                  concentration: float = 0.3, order=None) -> FiniteMixture:
    """A random finite mixture: Dirichlet(``concentration``) components and weights.

    The instances of theory.md §6 (Dirichlet(0.3) components) come from here.

    Args:
        key: a ``jax.random`` key.
        n_components: ``K``.
        alphabet: ``A``.
        length: ``L``.
        process: the process name.
        concentration: the Dirichlet parameter of each component pmf.
        order: the order for ``ordered_masking`` (a random one is drawn when ``None``).

    Returns:
        A :class:`FiniteMixture`.
    """
    k_w, k_p, k_o = jax.random.split(key, 3)
    size = alphabet**length
    w = np.asarray(jax.random.dirichlet(k_w, jnp.ones(n_components)))
    p = np.asarray(jax.random.dirichlet(k_p, jnp.full(size, concentration), (n_components,)))
    # Renormalise in float64 so the validation's 1e-9 tolerance is met exactly.
    w, p = w / w.sum(), p / p.sum(axis=1, keepdims=True)
    if process == "ordered_masking" and order is None:
        order = np.asarray(jax.random.permutation(k_o, length)).tolist()
    return finite_mixture(w, p, alphabet, length, process, order)


register(Family(
    name="finite",
    builder=lambda process, order, **kw: finite_mixture(process=process, order=order, **kw),
    params={
        "alphabet": "alphabet size A >= 2",
        "length": "sequence length L >= 1",
        "weights": "K mixture weights summing to 1",
        "pmfs": "K rows of A^L probabilities, lexicographic order, first position most significant",
    },
    processes=("truncation", "ordered_masking", "random_masking"),
    summary="explicit pmfs over A^L; exact by coordinate-wise kernels on (A+1)^L",
))
