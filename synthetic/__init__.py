"""Toy distributions for ``localize``: each family builds a :class:`localize.Model`.

Families register themselves on import; :func:`build` makes a model by name and
:func:`families_info` lists them (``localize families``).
"""

import localize  # noqa: F401  (turns on float64 before any array is made)
from synthetic import (  # noqa: F401  (each registers its family)
    absorbing_walk,
    biased_coins,
    critical_tokens,
    finite,
    gaussian_mixture,
    icl,
    markov_mixture,
    planted,
    planted_icl,
    point_masses,
    structured_output,
)
from synthetic.absorbing_walk import AbsorbingWalk
from synthetic.biased_coins import BiasedCoins
from synthetic.critical_tokens import CriticalTokens
from synthetic.finite import FiniteMixture, finite_mixture, random_finite
from synthetic.gaussian_mixture import GaussianMixture
from synthetic.icl import ICLMixture
from synthetic.markov_mixture import HMMMixture, MarkovMixture, random_hmm, random_markov
from synthetic.planted import PlantedRegression
from synthetic.planted_icl import PlantedICL
from synthetic.point_masses import PointMasses
from synthetic.registry import FAMILIES, Family, build, families_info, register
from synthetic.structured_output import StructuredOutput

__all__ = [
    "AbsorbingWalk",
    "BiasedCoins",
    "CriticalTokens",
    "FAMILIES",
    "Family",
    "FiniteMixture",
    "GaussianMixture",
    "HMMMixture",
    "ICLMixture",
    "MarkovMixture",
    "PlantedICL",
    "PlantedRegression",
    "PointMasses",
    "StructuredOutput",
    "build",
    "families_info",
    "finite_mixture",
    "random_finite",
    "random_hmm",
    "random_markov",
    "register",
]
