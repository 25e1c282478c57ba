"""What the core needs from a family: a finite mixture seen through its observation process.

A *model* is ``p = sum_theta w_theta p^theta`` with a forward kernel ``K_t(y | x)`` that does
not depend on the component ([LKC25] §2.1). The core never enumerates raw outcomes; at each
time ``t`` a model hands over a :class:`View`: the component laws on a *clean* space ``U``
and on an *observation* space ``Z``. Either may be a reduction of the raw space (point
masses keep only disagreeing coordinates, coins keep counts), as long as every likelihood
ratio between components is constant on each reduced outcome; then every divergence,
posterior and forward-reverse law computed on the reduction is the exact one.

The reverse step enters only through :meth:`Model.log_adjoint`,
``u -> log sum_z K_t(z | u) r(z)``, so the forward-reverse law (Definition 3) is
``p^{S,t}(u) = p(u) * sum_z K_t(z | u) p_t^S(z) / p_t(z)`` (theory.md §1.4).
"""

from __future__ import annotations

import abc
from typing import NamedTuple

import numpy as np
from jax.nn import logsumexp

from localize.errors import bad
from localize.processes import Process


class View(NamedTuple):
    """The component laws of a model at one time.

    Attributes:
        log_clean: ``(K, *U)``, ``log p^theta(u)`` on the clean space used at this time.
        log_noised: ``(K, *Z)``, ``log p_t^theta(z)``, the noised component laws.
    """

    log_clean: object
    log_noised: object


class Model(abc.ABC):
    """A finite mixture with an observation process (the families subclass this).

    Subclasses are frozen dataclasses registered as JAX pytrees, so a model passes through
    ``jax.jit`` and two models of the same shapes share one compilation.
    """

    family = "model"

    @property
    @abc.abstractmethod
    def log_weights(self):
        """``(K,)`` log mixture weights ``log w_theta``."""

    @property
    @abc.abstractmethod
    def process(self) -> Process:
        """The observation process."""

    @abc.abstractmethod
    def view(self, t) -> View:
        """The clean and noised component laws at time ``t`` (traceable in ``t``)."""

    @abc.abstractmethod
    def log_adjoint(self, t, log_r):
        """``log sum_z K_t(z | u) r(z)`` for every clean outcome ``u``.

        Args:
            t: the time.
            log_r: ``(*Z)``, log of a non-negative function on the observation space.

        Returns:
            ``(*U)``, the log of the kernel's adjoint applied to ``r``.
        """

    def log_noised_mixtures(self, t, log_rows):
        """Noised laws of several mixtures at once: ``log sum_theta rows[m, theta] p_t^theta``.

        The kernel is linear and the same for every component, so a family may override this
        to mix first and noise once per row, which is cheaper when ``K`` is large.

        Args:
            t: the time.
            log_rows: ``(M, K)`` log mixing weights (each row normalised, ``-inf`` outside
                its set).

        Returns:
            ``(M, *Z)`` log-pmfs.
        """
        return _mix(log_rows, self.view(t).log_noised)

    def log_clean_mixtures(self, t, log_rows):
        """Clean laws of several mixtures on the clean space used at time ``t``: ``(M, *U)``."""
        return _mix(log_rows, self.view(t).log_clean)

    @property
    def n_components(self) -> int:
        """Number of mixture components ``K``."""
        return int(np.shape(self.log_weights)[0])

    @property
    def error_bound(self) -> float:
        """A bound on ``|reported - exact|`` for every TV the core reports (0 when exact)."""
        return 0.0

    @property
    def method(self) -> str:
        """How the numbers are obtained: ``"exact"`` unless a family says otherwise."""
        return "exact"

    def table_size(self) -> int:
        """Rough number of float64 entries in one :class:`View`, for batching over times."""
        return 1

    def describe(self) -> dict:
        """The model's parameters as a JSON-ready dictionary.

        Families extend it (``{**super().describe(), ...}``) with their own parameters.
        """
        return {
            "family": self.family,
            "weights": np.exp(np.asarray(self.log_weights)).tolist(),
            "process": self.process.describe(),
        }


def _mix(log_rows, tables):
    extra = (1,) * (tables.ndim - 1)
    return logsumexp(log_rows.reshape(log_rows.shape + extra) + tables[None], axis=1)


def check_weights(weights, name: str = "weights") -> np.ndarray:
    """Validate mixture weights and return them as float64.

    Args:
        weights: a 1-D sequence of non-negative finite numbers summing to 1 (within 1e-9).
        name: the parameter name used in error messages.

    Returns:
        The weights as a float64 NumPy array.
    """
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise bad(name, weights, "a list of numbers") from None
    if w.ndim != 1 or w.size == 0:
        raise bad(name, weights, "a non-empty 1-D list of weights")
    if not np.all(np.isfinite(w)):
        raise bad(name, weights, "finite weights (no NaN or inf)")
    if np.any(w < 0):
        raise bad(name, weights, "non-negative weights")
    if abs(w.sum() - 1.0) > 1e-9:
        raise bad(name, weights, f"weights summing to 1 within 1e-9 (they sum to {w.sum():.12g})")
    return w


def set_mask(n_components: int, subset, name: str = "set") -> np.ndarray:
    """Turn a list of component indices into a boolean mask, validating it.

    Args:
        n_components: ``K``.
        subset: a non-empty list of distinct integers in ``[0, K)``.
        name: the parameter name used in error messages.

    Returns:
        A ``(K,)`` boolean NumPy array.
    """
    expected = f"a non-empty list of distinct component indices in 0..{n_components - 1}"
    if isinstance(subset, (str, bytes)) or not hasattr(subset, "__iter__"):
        raise bad(name, subset, expected)
    items = list(subset)
    if not items:
        raise bad(name, subset, expected)
    for i in items:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise bad(name, subset, expected)
        if not 0 <= int(i) < n_components:
            raise bad(name, subset, expected)
    if len(set(int(i) for i in items)) != len(items):
        raise bad(name, subset, expected)
    mask = np.zeros(n_components, dtype=bool)
    mask[np.asarray(items, dtype=np.int64)] = True
    return mask


def subset_mask(model, subset, name: str = "set") -> np.ndarray:
    """The mask of a set given by component indices or by the name of a sub-population.

    Families with huge component sets (a planted signal has ``C(s, k)`` of them) name their
    sub-populations through an optional ``subpopulations()`` method returning
    ``{name: list of indices or (K,) boolean mask}``; ``"all"`` is every component, for any
    model.

    Args:
        model: a model (finite, continuous or sequence); only ``n_components`` and the
            optional ``subpopulations()`` are used.
        subset: a list of component indices, or a name.
        name: the parameter name used in error messages.

    Returns:
        A ``(K,)`` boolean NumPy array.
    """
    k = model.n_components
    if isinstance(subset, str):
        named = dict(model.subpopulations()) if hasattr(model, "subpopulations") else {}
        if subset == "all":
            return np.ones(k, dtype=bool)
        if subset not in named:
            choices = ", ".join(repr(n) for n in ["all", *sorted(named)])
            raise bad(name, subset, f"a list of component indices or a sub-population name "
                      f"of this model: {choices}")
        subset = named[subset]
        if isinstance(subset, np.ndarray) and subset.dtype == bool:
            # A family may name a set by its mask (cheaper than a million indices).
            if subset.shape != (k,) or not subset.any():
                raise bad(name, "a mask", f"a non-empty ({k},) boolean mask")
            return subset.copy()
    return set_mask(k, subset, name)

