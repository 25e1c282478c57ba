"""Gaussian observation channels on ``R^d``: OU, variance exploding, stochastic localization.

Each process observes ``Y_t = a(t) X + sigma(t) Z`` with ``Z ~ N(0, I)`` independent of ``X``.
Dividing by ``a(t)`` is a bijection that does not depend on ``X``, so every likelihood ratio,
posterior, TV and forward-reverse law is the same for the *normalised* observation

    ``Y~_t = Y_t / a(t) = X + sqrt(v(t)) Z``,   ``v(t) = sigma(t)^2 / a(t)^2``.

The core therefore works with ``v(t)`` alone; ``a(t)`` and ``sigma(t)^2`` are kept for users
who want the observation on its own scale. Time follows [LKC25] §2.1: ``t = 0`` is the clean
sample and a larger ``t`` carries less information about ``X``.

* ``ou``: the paper's ``dX = -X dt + sqrt(2) dB`` ([LKC25] Example 8 and §4.1):
  ``a = e^{-t}``, ``sigma^2 = 1 - e^{-2t}``, ``v = e^{2t} - 1``. A component ``N(m, S)``
  becomes ``N(e^{-t} m, e^{-2t} S + (1 - e^{-2t}) I)``.
* ``ve``: variance exploding, ``Y_t = X + sqrt(t) Z``: ``a = 1``, ``sigma^2 = v = t``.
* ``channel``: Montanari's stochastic-localization channel ``y(theta) = theta X + W(theta)``
  with ``W`` a standard Brownian motion (Montanari 2023, "Sampling, diffusions and stochastic
  localization"). His time ``theta`` grows with information, so ours is ``t = 1 / theta``:
  ``a = 1/t``, ``sigma^2 = 1/t``, ``v = t``. At equal ``t`` it carries exactly the information
  of ``ve`` (``y / theta`` is ``ve``'s observation), which the tests check.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import ClassVar

import jax.numpy as jnp
import numpy as np

from localize.errors import bad
from localize.processes import time_array

# exp(2t) - 1 overflows a double past t ~ 354.9; beyond 350 the OU channel has erased every
# difference a double can hold anyway.
OU_MAX_TIME = 350.0
# The variance-exploding channels stop where v would lose all meaning in float64.
VE_MAX_TIME = 1e300


@dataclasses.dataclass(frozen=True)
class GaussianChannel(abc.ABC):
    """An observation process ``Y_t = a(t) X + sigma(t) Z`` on ``R^d`` with ``t in [0, inf)``."""

    kind: ClassVar[str] = "channel"
    discrete_time: ClassVar[bool] = False
    max_time: ClassVar[float] = VE_MAX_TIME

    @property
    def index_set(self) -> str:
        """A human-readable description of the index set ``I``."""
        return f"the interval [0, {self.max_time:g}]"

    def validate_times(self, times) -> np.ndarray:
        """Check that ``times`` are strictly increasing, finite and in ``[0, max_time]``.

        Args:
            times: a sequence of times.

        Returns:
            The times as a float64 NumPy array.

        Raises:
            LocalizeError: naming ``times`` when a time is negative, NaN, too large or out of
                order.
        """
        arr = time_array(times, self.index_set)
        if arr.min() < 0 or arr.max() > self.max_time:
            raise bad("times", times, f"points of {self.index_set}")
        return arr

    @abc.abstractmethod
    def scale(self, t):
        """``a(t)``, the factor multiplying ``X`` in ``Y_t`` (traceable)."""

    @abc.abstractmethod
    def noise_var(self, t):
        """``sigma(t)^2``, the variance of the added noise per coordinate (traceable)."""

    @abc.abstractmethod
    def ve_var(self, t):
        """``v(t) = sigma(t)^2 / a(t)^2``, the noise variance of ``Y_t / a(t)`` (traceable)."""

    def describe(self) -> dict:
        """The process as a JSON-ready dictionary."""
        return {"kind": self.kind}


@dataclasses.dataclass(frozen=True)
class OU(GaussianChannel):
    """The Ornstein-Uhlenbeck process ``dX = -X dt + sqrt(2) dB`` ([LKC25] §4.1, Example 8)."""

    kind: ClassVar[str] = "ou"
    max_time: ClassVar[float] = OU_MAX_TIME

    def scale(self, t):
        return jnp.exp(-jnp.asarray(t, dtype=jnp.float64))

    def noise_var(self, t):
        return -jnp.expm1(-2.0 * jnp.asarray(t, dtype=jnp.float64))

    def ve_var(self, t):
        return jnp.expm1(2.0 * jnp.asarray(t, dtype=jnp.float64))


@dataclasses.dataclass(frozen=True)
class VE(GaussianChannel):
    """Variance exploding: ``Y_t = X + sqrt(t) Z``."""

    kind: ClassVar[str] = "ve"

    def scale(self, t):
        return jnp.ones_like(jnp.asarray(t, dtype=jnp.float64))

    def noise_var(self, t):
        return jnp.asarray(t, dtype=jnp.float64)

    def ve_var(self, t):
        return jnp.asarray(t, dtype=jnp.float64)


@dataclasses.dataclass(frozen=True)
class SLChannel(GaussianChannel):
    """Montanari's stochastic-localization channel with ``theta = 1 / t``.

    ``Y_t = theta X + W(theta)``: ``a = 1/t`` and ``sigma^2 = 1/t`` (infinite at ``t = 0``,
    where the observation is ``X`` itself); the normalised observation is ``ve``'s.
    """

    kind: ClassVar[str] = "channel"

    def scale(self, t):
        return 1.0 / jnp.asarray(t, dtype=jnp.float64)

    def noise_var(self, t):
        return 1.0 / jnp.asarray(t, dtype=jnp.float64)

    def ve_var(self, t):
        return jnp.asarray(t, dtype=jnp.float64)


CHANNELS = {"ou": OU, "ve": VE, "channel": SLChannel}


def make_channel(kind: str) -> GaussianChannel:
    """Build a Gaussian channel by name.

    Args:
        kind: ``"ou"``, ``"ve"`` or ``"channel"``.

    Returns:
        The process.

    Raises:
        LocalizeError: naming ``process.kind`` for an unknown name.
    """
    if kind not in CHANNELS:
        raise bad("process.kind", kind, f"one of {sorted(CHANNELS)}")
    return CHANNELS[kind]()
