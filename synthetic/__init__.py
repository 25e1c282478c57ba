"""Toy distributions for ``localize``: each family builds a :class:`localize.Model`.

Families register themselves on import; :func:`build` makes a model by name and
:func:`families_info` lists them (``localize families``).
"""

import localize  # noqa: F401  (turns on float64 before any array is made)
from synthetic import biased_coins, finite, point_masses  # noqa: F401  (each registers its family)
from synthetic.biased_coins import BiasedCoins
from synthetic.finite import FiniteMixture, finite_mixture, random_finite
from synthetic.point_masses import PointMasses
from synthetic.registry import FAMILIES, Family, build, families_info, register

__all__ = [
    "BiasedCoins",
    "FAMILIES",
    "Family",
    "FiniteMixture",
    "PointMasses",
    "build",
    "families_info",
    "finite_mixture",
    "random_finite",
    "register",
]
