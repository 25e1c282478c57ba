"""Mixtures of sequence models: what the core needs from them ([LKC25] §2.2.1, Examples 4-6).

A :class:`SequenceModel` is ``p = sum_theta w_theta p^theta`` on ``A^L`` (a vocabulary of
``A`` tokens, sequences of length ``L``) whose components are too large to tabulate: Markov
chains and hidden Markov models at ``L = 10^4``. The core knows them through five
primitives, all batched over sequences and traceable:

* :meth:`~SequenceModel.sample`: draws of whole sequences from given components;
* :meth:`~SequenceModel.log_prefix`: ``log p^theta(x_{1:l})`` for every component and a
  vector of prefix lengths ``l``, in one pass (truncation, [LKC25] Example 10);
* :meth:`~SequenceModel.log_observed`: ``log p^theta`` of the visible coordinates with the
  hidden ones marginalised (ordered and random masking, Examples 3 and 7);
* :meth:`~SequenceModel.sample_hidden`: the hidden coordinates drawn from
  ``p^theta(. | visible)``, i.e. the reverse process of one component; with the exact label
  posterior this samples ``X | Y_t`` under the whole mixture (Definition 3);
* :meth:`~SequenceModel.finite`: the same mixture as an exact finite
  :class:`localize.Model` when its support is small enough to enumerate, else ``None``.

The window report uses :meth:`finite` when it is not ``None`` (every number exact) and
otherwise the curve hooks, whose defaults are the Monte Carlo estimators of
:mod:`localize.sequence_estimate`: sequences drawn from the components, every density
evaluated exactly, standard errors reported. A family may override a hook with an exact
routine (counts, a closed form), as the Gaussian families do.

Observation convention: at time ``t`` a sequence ``x`` is seen through the visibility mask of
the process (:func:`visible_mask`): truncation shows the first ``L - t`` tokens; ordered
masking hides the last ``t`` coordinates of its order; random masking hides coordinate ``j``
when ``u_j < t`` for uniforms ``u`` drawn once per sequence, so that every time sees the same
randomness and the masks are nested (the process is Markov, theory.md §1.2).
"""

from __future__ import annotations

import abc

import jax.numpy as jnp
import numpy as np

from localize.continuous import EstimateConfig
from localize.errors import bad
from localize.processes import OrderedMasking, Process, RandomMasking, Truncation


class SequenceModel(abc.ABC):
    """A finite mixture of laws on ``A^L`` known through samplers and exact log-densities.

    Subclasses are frozen dataclasses registered as JAX pytrees (parameters as data fields,
    the process and sizes as meta fields), so a model passes through ``jax.jit`` and two
    models of the same shapes share one compilation.
    """

    family = "sequence"

    @property
    @abc.abstractmethod
    def log_weights(self):
        """``(K,)`` log mixture weights."""

    @property
    @abc.abstractmethod
    def process(self) -> Process:
        """The observation process (:class:`~localize.processes.Truncation`, ...)."""

    @property
    @abc.abstractmethod
    def alphabet(self) -> int:
        """The vocabulary size ``A``; tokens are ``0..A-1``."""

    @property
    def length(self) -> int:
        """The sequence length ``L`` (the process's)."""
        return int(self.process.length)

    @abc.abstractmethod
    def sample(self, key, labels):
        """``(n, L)`` int32 draws of whole sequences, row ``i`` from component ``labels[i]``.

        Args:
            key: a ``jax.random`` key.
            labels: ``(n,)`` integer component indices.
        """

    @abc.abstractmethod
    def log_prefix(self, tokens, lengths):
        """``log p^theta(x_{1:l})`` for every sequence, prefix length and component.

        Args:
            tokens: ``(n, L)`` int32 sequences.
            lengths: ``(m,)`` int32 prefix lengths in ``0..L`` (traced; length 0 gives 0).

        Returns:
            ``(n, m, K)`` float64 log-probabilities, from one pass over the positions.
        """

    @abc.abstractmethod
    def log_observed(self, tokens, visible):
        """``log p^theta(x_j : j visible)``, the hidden coordinates marginalised.

        Args:
            tokens: ``(n, L)`` int32 sequences (hidden entries are ignored).
            visible: ``(n, L)`` boolean visibility masks.

        Returns:
            ``(n, K)`` float64 log-probabilities.
        """

    @abc.abstractmethod
    def sample_hidden(self, key, tokens, visible, labels):
        """Redraw the hidden coordinates from ``p^theta(. | visible coordinates)``.

        Args:
            key: a ``jax.random`` key.
            tokens: ``(n, L)`` int32 sequences; visible entries are kept.
            visible: ``(n, L)`` boolean visibility masks.
            labels: ``(n,)`` the component ``theta`` of each row.

        Returns:
            ``(n, L)`` int32 sequences equal to ``tokens`` where visible.
        """

    def finite(self):
        """The same mixture and process as an exact finite :class:`localize.Model`, or None.

        Families return one when the support is small enough to enumerate (e.g. ``A^L`` up
        to a limit); the window report then computes every curve exactly.
        """
        return None

    @property
    def n_components(self) -> int:
        """Number of components ``K``."""
        return int(np.shape(self.log_weights)[0])

    @property
    def error_bound(self) -> float:
        """Deterministic error on every TV reported beyond the per-curve errors (0 here)."""
        return 0.0

    def describe(self) -> dict:
        """The model's parameters as a JSON-ready dictionary (families extend it)."""
        return {
            "family": self.family,
            "weights": np.exp(np.asarray(self.log_weights)).tolist(),
            "process": self.process.describe(),
            "alphabet": int(self.alphabet),
            "length": int(self.length),
        }

    # Curve hooks, with the signatures of ContinuousModel's: a key, the times as a 1-D
    # NumPy array, log mixing rows ((K,), normalised, -inf outside the set); each returns
    # an Estimate over the times.

    def tv_curve(self, key, ts, log_a, log_b, config: EstimateConfig):
        """``TV(p_t^A, p_t^B)`` with its log-overlap, for mixing rows ``a`` and ``b``."""
        from localize import sequence_estimate

        return sequence_estimate.mc_tv(key, self, ts, log_a, log_b, config)

    def bc_curve(self, key, ts, log_a, log_b, config: EstimateConfig):
        """``BC(p_t^A, p_t^B)``, the Bhattacharyya coefficient."""
        from localize import sequence_estimate

        return sequence_estimate.mc_bc(key, self, ts, log_a, log_b, config)

    def label_mass_curve(self, key, ts, log_a, mask_b, config: EstimateConfig):
        """``E_{Y ~ p_t^A}[pi_t(B | Y)]`` for the set ``B`` given as a ``(K,)`` boolean mask."""
        from localize import sequence_estimate

        return sequence_estimate.mc_label_mass(key, self, ts, log_a, mask_b, config)

    def fr_tv_curve(self, key, ts, log_init, log_cmp, config: EstimateConfig):
        """``TV(p^{A,t}, p^B)``: the forward-reverse law from ``A`` against the clean ``p^B``."""
        from localize import sequence_estimate

        return sequence_estimate.mc_fr_tv(key, self, ts, log_init, log_cmp, config)

    def fr_label_law(self, key, ts, log_init, config: EstimateConfig):
        """``P(label(X^{A,t}) = theta)`` for every ``theta``: value of shape ``(n_times, K)``."""
        from localize import sequence_estimate

        return sequence_estimate.mc_label_law(key, self, ts, log_init, config)


def visible_mask(process: Process, t, uniforms=None):
    """The coordinates of ``A^L`` visible at time ``t`` (traceable in ``t``).

    Args:
        process: the observation process.
        t: the time (a scalar, possibly traced).
        uniforms: ``(n, L)`` uniforms, required for random masking: coordinate ``j`` is
            hidden when ``uniforms[:, j] < t`` (the same uniforms at every time give nested
            masks with the right law).

    Returns:
        ``(L,)`` booleans for truncation and ordered masking, ``(n, L)`` for random masking.
    """
    if isinstance(process, RandomMasking):
        if uniforms is None:
            raise bad("uniforms", None, "an (n, L) array of uniforms for random masking")
        return uniforms >= jnp.asarray(t, dtype=jnp.float64)
    if isinstance(process, (Truncation, OrderedMasking)):
        log_q, _ = process.log_mask_probs(t)
        return jnp.isneginf(log_q)
    raise bad("process", type(process).__name__, "truncation, ordered or random masking")
