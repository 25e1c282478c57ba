"""localize: exact critical windows of stochastic localization samplers.

Li, Karan & Chen, "Blink of an eye: a simple theory for feature localization in generative
models" (ICML 2025), called [LKC25] throughout. The mathematics is restated in
``shared/theory.md``; section numbers in docstrings refer to the paper.

This is the one place that turns on float64: every probability in the package is carried in
log space at double precision.
"""

import jax

jax.config.update("jax_enable_x64", True)

from localize import divergences  # noqa: E402
from localize.channels import OU, VE, SLChannel, make_channel  # noqa: E402
from localize.continuous import ContinuousModel, Estimate, EstimateConfig  # noqa: E402
from localize.errors import ConfigError, LocalizeError  # noqa: E402
from localize.experiment import (  # noqa: E402
    ForwardReverse,
    forward_reverse,
    forward_reverse_label_law,
)
from localize.model import Model, View, set_mask, subset_mask  # noqa: E402
from localize.posterior import (  # noqa: E402
    label_law,
    log_label_posterior,
    log_set_posterior,
    log_submixture,
)
from localize.processes import (  # noqa: E402
    OrderedMasking,
    Process,
    RandomMasking,
    Truncation,
    make_process,
)
from localize.report import WindowCurves, WindowReport, window_curves, window_report  # noqa: E402
from localize.sequence import SequenceModel, visible_mask  # noqa: E402
from localize.sweep import product_grid, sweep  # noqa: E402
from localize.windows import t_after_c, t_before_c, t_end, t_start  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "OU",
    "VE",
    "ConfigError",
    "ContinuousModel",
    "Estimate",
    "EstimateConfig",
    "ForwardReverse",
    "LocalizeError",
    "Model",
    "OrderedMasking",
    "Process",
    "RandomMasking",
    "SLChannel",
    "SequenceModel",
    "Truncation",
    "View",
    "WindowCurves",
    "WindowReport",
    "divergences",
    "forward_reverse",
    "forward_reverse_label_law",
    "label_law",
    "log_label_posterior",
    "log_set_posterior",
    "log_submixture",
    "make_channel",
    "make_process",
    "product_grid",
    "set_mask",
    "subset_mask",
    "sweep",
    "t_after_c",
    "t_before_c",
    "t_end",
    "t_start",
    "visible_mask",
    "window_curves",
    "window_report",
]
