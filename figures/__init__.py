"""Figures of ``localize``: one script per figure, a data cache, PNG outputs.

``python -m figures.make_all [--fast]`` (``make figures`` / ``make figures-fast``) runs every
script: each computes its exact arrays once (cached in ``figures/data/``, or in
``figures/fast/data/`` for the quick preview) and draws ``figures/<name>.png`` from the cache.
"""

FIGURES = (
    "fig_absorbing_walk",
    "fig_example3",
    "fig_example5",
    "fig_gaussian_example1",
    "fig_gaussian_example2",
    "fig_gaussian_hierarchy",
    "fig_gaussian_speciation",
    "fig_hierarchy_depth",
    "fig_icl",
    "fig_jailbreak",
    "fig_planted",
    "fig_structured",
    "fig_structured_estimator",
    "fig_theorem2",
)
