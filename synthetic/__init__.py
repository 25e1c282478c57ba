"""Toy distributions for ``localize``: each family builds a :class:`localize.Model`.

Families register themselves on import; :func:`build` makes a model by name and
:func:`families_info` lists them (``localize families``).
"""

import localize  # noqa: F401  (turns on float64 before any array is made)
from synthetic import finite  # noqa: F401  (registers the family)
from synthetic.finite import FiniteMixture, finite_mixture, random_finite
from synthetic.registry import FAMILIES, Family, build, families_info, register

__all__ = [
    "FAMILIES",
    "Family",
    "FiniteMixture",
    "build",
    "families_info",
    "finite_mixture",
    "random_finite",
    "register",
]
