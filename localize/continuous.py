"""Mixtures on ``R^d`` seen through a Gaussian channel: what the core needs from them.

A :class:`ContinuousModel` is ``p = sum_theta w_theta p^theta`` on ``R^d`` with an
observation process from :mod:`localize.channels`. Its laws cannot be tabulated, so the
core asks the model for *curves*: each hook returns an :class:`Estimate` over a vector of
times, with its standard error and the method used (``"exact"``, ``"closed-form"``,
``"quadrature"`` or ``"monte-carlo"``). The defaults are Monte Carlo estimators built only
from the primitives (component log-densities and samplers, see :mod:`localize.estimate`),
so a new continuous family gets every curve of the window report by implementing five
methods; a family overrides a hook where it knows better (a closed form, a quadrature in a
reduced dimension), and the report records which was used.

Observations are in the normalised scale ``Y~_t = X + sqrt(v(t)) Z`` (see
:mod:`localize.channels`); every quantity reported is invariant under that bijection.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import NamedTuple

import numpy as np

from localize.channels import GaussianChannel
from localize.errors import bad

METHODS = ("exact", "closed-form", "quadrature", "monte-carlo")


class Estimate(NamedTuple):
    """A curve over times with its error.

    Attributes:
        value: ``(n_times,)`` the estimate.
        se: ``(n_times,)`` its Monte Carlo standard error (0 when nothing is sampled).
        method: one of :data:`METHODS`.
        bias: ``(n_times,)`` a bound on ``|E[value] - truth|`` that ``se`` does not cover (the
            inner-sample bias of the forward-reverse TVs; 0 otherwise).
        error: ``(n_times,)`` a bound on the deterministic error (quadrature; 0 otherwise).
        log_overlap: ``(n_times,)`` ``log(1 - value)`` computed directly, for TVs; else None.
        log_overlap_se: ``(n_times,)`` its standard error (delta method); else None.
    """

    value: np.ndarray
    se: np.ndarray
    method: str
    bias: np.ndarray
    error: np.ndarray
    log_overlap: np.ndarray | None = None
    log_overlap_se: np.ndarray | None = None


@dataclasses.dataclass(frozen=True)
class EstimateConfig:
    """How much Monte Carlo to spend where a curve must be estimated.

    Attributes:
        samples: outer samples per time (per curve).
        inner_samples: samples of ``Y_t | X = x`` per outer sample, for the forward-reverse
            densities (their bias shrinks like ``1 / sqrt(inner_samples)``).
        seed: the seed of the PRNG key; the same seed gives the same numbers.
    """

    samples: int = 100_000
    inner_samples: int = 64
    seed: int = 0

    def __post_init__(self):
        for name in ("samples", "inner_samples"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 2:
                raise bad(f"estimate.{name}", v, "an integer of at least 2")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) \
                or self.seed < 0:
            raise bad("estimate.seed", self.seed, "a non-negative integer")


class ContinuousModel(abc.ABC):
    """A finite mixture on ``R^d`` observed through a :class:`GaussianChannel`.

    Subclasses implement the five primitives (traceable in ``t``; arrays are float64) and
    may override the curve hooks with exact routines.
    """

    family = "continuous"

    @property
    @abc.abstractmethod
    def log_weights(self):
        """``(K,)`` log mixture weights."""

    @property
    @abc.abstractmethod
    def process(self) -> GaussianChannel:
        """The observation process."""

    @property
    @abc.abstractmethod
    def dim(self) -> int:
        """The dimension ``d`` of the clean space on which the curves are computed."""

    @abc.abstractmethod
    def log_clean(self, x):
        """``(n, K)`` component log-densities ``log p^theta(x)`` at ``x`` of shape ``(n, d)``."""

    @abc.abstractmethod
    def log_noised(self, t, y):
        """``(n, K)`` log-densities of the normalised observation ``Y~_t`` given each component."""

    @abc.abstractmethod
    def sample_clean(self, key, labels):
        """``(n, d)`` draws of ``X`` from the components ``labels`` (``(n,)`` integers)."""

    @abc.abstractmethod
    def sample_forward(self, key, t, x):
        """``(n, d)`` draws of ``Y~_t`` given ``X = x``: ``x + sqrt(v(t)) Z``."""

    @abc.abstractmethod
    def sample_posterior(self, key, t, y):
        """``(n, d)`` exact draws of ``X | Y~_t = y`` under the whole mixture ``p``.

        This is the reverse process of Definition 2 started at ``t``; with
        :meth:`sample_forward` it samples the forward-reverse law ``p^{S,t}``.
        """

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
            "dim": int(self.dim),
        }

    # Curve hooks. Each takes a key (used by the estimators, ignored by exact routines),
    # the times as a 1-D NumPy array and log mixing rows (``(K,)``, normalised, -inf
    # outside the set), and returns an Estimate over the times.

    def tv_curve(self, key, ts, log_a, log_b, config: EstimateConfig) -> Estimate:
        """``TV(p_t^A, p_t^B)`` with its log-overlap, for mixing rows ``a`` and ``b``."""
        from localize import estimate

        return estimate.mc_tv(key, self, ts, log_a, log_b, config)

    def bc_curve(self, key, ts, log_a, log_b, config: EstimateConfig) -> Estimate:
        """``BC(p_t^A, p_t^B)``, the Bhattacharyya coefficient."""
        from localize import estimate

        return estimate.mc_bc(key, self, ts, log_a, log_b, config)

    def label_mass_curve(self, key, ts, log_a, mask_b, config: EstimateConfig) -> Estimate:
        """``E_{Y ~ p_t^A}[pi_t(B | Y)]`` for the set ``B`` given as a ``(K,)`` boolean mask."""
        from localize import estimate

        return estimate.mc_label_mass(key, self, ts, log_a, mask_b, config)

    def fr_tv_curve(self, key, ts, log_init, log_cmp, config: EstimateConfig) -> Estimate:
        """``TV(p^{A,t}, p^B)``: the forward-reverse law from ``A`` against the clean ``p^B``."""
        from localize import estimate

        return estimate.mc_fr_tv(key, self, ts, log_init, log_cmp, config)

    def fr_label_law(self, key, ts, log_init, config: EstimateConfig) -> Estimate:
        """``P(label(X^{A,t}) = theta)`` for every ``theta``: value of shape ``(n_times, K)``.

        Equal to ``E_{Y ~ p_t^A}[pi_t(theta | Y)]`` (theory.md §1.4).
        """
        from localize import estimate

        return estimate.mc_label_law(key, self, ts, log_init, config)


CURVE_HOOKS = ("tv_curve", "bc_curve", "label_mass_curve", "fr_tv_curve", "log_weights")


def is_curve_model(model) -> bool:
    """Whether ``model`` is known only through curve hooks (e.g. ``planted_icl``): not a
    finite :class:`localize.Model` (no ``view``), but with the hooks of
    :class:`ContinuousModel`; the window report and the label law then use the hooks."""
    return not hasattr(model, "view") and all(hasattr(model, h) for h in CURVE_HOOKS)

