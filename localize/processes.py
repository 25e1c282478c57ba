"""Observation processes on finite product spaces ``A^L`` ([LKC25] §2.1, Examples 3, 7, 10).

All three processes of the paper on sequences are *coordinate masking*: at time ``t`` each
coordinate ``j`` is hidden independently with probability ``q_j(t)`` and otherwise shown as
it is. Truncation and ordered masking are the deterministic cases ``q_j in {0, 1}``; random
masking has ``q_j = t``. A process therefore only has to say ``log q_j(t)`` and
``log(1 - q_j(t))``; the families turn that into kernels acting coordinate by coordinate
(never as a dense ``|X| x |Y|`` matrix).

Truncation keeps the first ``L - t`` tokens ([LKC25] Example 10). Seen as masking, the
observation carries the mask pattern as well, but the pattern is fixed by ``t``, so every
likelihood ratio, posterior and divergence is the same as for the bare prefix.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import ClassVar

import jax.numpy as jnp
import numpy as np

from localize.errors import bad


@dataclasses.dataclass(frozen=True)
class Process(abc.ABC):
    """Base class of an observation process on ``L`` coordinates.

    Attributes:
        length: number of coordinates ``L``.
    """

    length: int
    kind: ClassVar[str] = "process"
    discrete_time: ClassVar[bool] = True

    def __post_init__(self):
        if not isinstance(self.length, (int, np.integer)) or isinstance(self.length, bool):
            raise bad("length", self.length, "a positive integer")
        if self.length < 1:
            raise bad("length", self.length, "a positive integer")

    @property
    def index_set(self) -> str:
        """A human-readable description of the index set ``I``."""
        if self.discrete_time:
            return f"integers 0..{self.length}"
        return "the interval [0, 1]"

    def validate_times(self, times) -> np.ndarray:
        """Check that ``times`` are strictly increasing points of the index set ``I``.

        Args:
            times: a sequence of times.

        Returns:
            The times as a float64 NumPy array.

        Raises:
            LocalizeError: when a time is outside ``I`` or the times are not increasing.
        """
        arr = time_array(times, f"the index set ({self.index_set})")
        if self.discrete_time:
            if not np.all(arr == np.round(arr)) or arr.min() < 0 or arr.max() > self.length:
                raise bad("times", times, f"points of the index set, {self.index_set}")
        elif arr.min() < 0 or arr.max() > 1:
            raise bad("times", times, f"points of the index set, {self.index_set}")
        return arr

    @abc.abstractmethod
    def log_mask_probs(self, t):
        """Per-coordinate log masking probabilities at time ``t`` (traceable).

        Args:
            t: a scalar time (may be a traced JAX value).

        Returns:
            ``(log_q, log_keep)``, two float64 arrays of shape ``(L,)`` with
            ``log_q[j] = log P(coordinate j masked)`` and ``log_keep = log(1 - q)``.
        """

    def describe(self) -> dict:
        """The process as a JSON-ready dictionary."""
        return {"kind": self.kind, "length": int(self.length)}


def time_array(times, index_set: str) -> np.ndarray:
    """The shape and order checks every process makes of a list of times.

    Args:
        times: a sequence of times.
        index_set: the index set in words, for the message about non-finite times.

    Returns:
        The times as a non-empty, finite, strictly increasing float64 NumPy array (whether
        they lie in the index set is the process's own check).

    Raises:
        LocalizeError: naming ``times``.
    """
    try:
        arr = np.asarray(times, dtype=np.float64)
    except (TypeError, ValueError):
        raise bad("times", times, "a list of numbers") from None
    if arr.ndim != 1 or arr.size == 0:
        raise bad("times", times, "a non-empty list of numbers")
    if not np.all(np.isfinite(arr)):
        raise bad("times", times, f"finite points of {index_set}")
    if arr.size > 1 and not np.all(np.diff(arr) > 0):
        raise bad("times", times, "strictly increasing times")
    return arr


def _deterministic(masked):
    zero, ninf = jnp.float64(0.0), jnp.float64(-jnp.inf)
    return jnp.where(masked, zero, ninf), jnp.where(masked, ninf, zero)


@dataclasses.dataclass(frozen=True)
class Truncation(Process):
    """Autoregressive truncation: at integer ``t`` the last ``t`` tokens are removed.

    [LKC25] Example 10 and §2.2.1: ``Y_t`` is the prefix of length ``L - t``; the reverse
    step is next-token prediction.
    """

    kind: ClassVar[str] = "truncation"

    def log_mask_probs(self, t):
        j = jnp.arange(self.length)
        return _deterministic(j >= self.length - jnp.asarray(t))


@dataclasses.dataclass(frozen=True)
class OrderedMasking(Process):
    """Permuted-order masking ([LKC25] Example 7): the last ``t`` coordinates of ``order``.

    Attributes:
        order: a permutation of ``range(L)``; at integer ``t`` the coordinates
            ``order[L - t:]`` are masked.
    """

    order: tuple = ()
    kind: ClassVar[str] = "ordered_masking"

    def __post_init__(self):
        super().__post_init__()
        order = tuple(int(i) for i in np.asarray(self.order).ravel()) if len(self.order) else ()
        if sorted(order) != list(range(self.length)):
            raise bad("order", list(self.order), f"a permutation of 0..{self.length - 1}")
        object.__setattr__(self, "order", order)

    def log_mask_probs(self, t):
        # rank[j] is the position of coordinate j in the masking order.
        rank = np.empty(self.length, dtype=np.int64)
        rank[np.asarray(self.order)] = np.arange(self.length)
        return _deterministic(jnp.asarray(rank) >= self.length - jnp.asarray(t))

    def describe(self) -> dict:
        return {**super().describe(), "order": list(self.order)}


@dataclasses.dataclass(frozen=True)
class RandomMasking(Process):
    """Independent masking ([LKC25] Example 3): each coordinate is hidden w.p. ``t`` in [0, 1].

    The family is Markov: from ``t`` to ``t' > t`` each visible coordinate is hidden with
    probability ``(t' - t) / (1 - t)``.
    """

    kind: ClassVar[str] = "random_masking"
    discrete_time: ClassVar[bool] = False

    def log_mask_probs(self, t):
        t = jnp.asarray(t, dtype=jnp.float64)
        log_q = jnp.full((self.length,), jnp.log(t))
        log_keep = jnp.full((self.length,), jnp.log1p(-t))
        return log_q, log_keep


PROCESSES = {cls.kind: cls for cls in (Truncation, OrderedMasking, RandomMasking)}


def make_process(kind: str, length: int, order=None) -> Process:
    """Build a process by name.

    Args:
        kind: ``"truncation"``, ``"ordered_masking"`` or ``"random_masking"``.
        length: number of coordinates ``L``.
        order: the masking order, required for ``ordered_masking`` and refused otherwise.

    Returns:
        The process.

    Raises:
        LocalizeError: for an unknown kind or a misplaced ``order``.
    """
    if kind not in PROCESSES:
        raise bad("process.kind", kind, f"one of {sorted(PROCESSES)}")
    if kind == "ordered_masking":
        if order is None:
            raise bad("process.order", None, "a permutation of the coordinates for ordered_masking")
        return OrderedMasking(length, tuple(np.asarray(order).ravel().tolist()))
    if order is not None:
        raise bad("process.order", order, f"no order for {kind}")
    return PROCESSES[kind](length)


def log1mexp(a):
    """``log(1 - exp(a))`` for ``a <= 0``, accurate at both ends (Maechler 2012)."""
    a = jnp.asarray(a, dtype=jnp.float64)
    return jnp.where(a > -jnp.log(2.0), jnp.log(-jnp.expm1(a)), jnp.log1p(-jnp.exp(a)))
