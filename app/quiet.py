"""A console a person can read: the libraries' output below WARNING is hidden unless ``--verbose``.

vLLM, transformers, TRL, torch, accelerate and datasets log INFO lines, draw their own progress bars and raise
FutureWarning/UserWarning noise on every start; that noise is hidden by the module that raises it
(:data:`NOISY_MODULES`), never by category alone. By default the harness shows only its own lines, its rich
progress bars and the libraries' WARNING-or-worse log records; ``harness --verbose`` (or
``HARNESS_VERBOSE=1``) shows everything. Set before the libraries are imported, so their loggers start quiet.
"""

from __future__ import annotations

import logging
import os
import warnings

from harness.types import HarnessWarning

LIBRARIES = ("vllm", "transformers", "trl", "torch", "accelerate", "datasets", "huggingface_hub", "httpx", "filelock")
#: the modules whose FutureWarning / DeprecationWarning / UserWarning is noise to a user of the harness
NOISY_MODULES = (*LIBRARIES, "lm_eval", "peft", "tokenizers", "pydantic", "ray", "torchvision", "pkg_resources",
                 "setuptools", "importlib", "jieba", "numexpr")  # fmt: skip
NUMERIC_MODULES = ("sklearn", "pandas", "numpy", "scipy")


def configure(verbose: bool) -> None:
    """Quiet (default) or verbose library output for this process and the processes it starts."""
    if verbose:
        os.environ["HARNESS_VERBOSE"] = "1"
        return
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    for name in LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    # the libraries' deprecation notices are for their developers, not for a user of the harness: hidden by the
    # module that issues them (the engines' and the hub's), so that the harness's own warnings, sklearn's
    # ConvergenceWarning of the LC fit and every numerical warning (RuntimeWarning: overflow, invalid values)
    # are never hidden
    noisy = "|".join(NOISY_MODULES)
    for category in (FutureWarning, DeprecationWarning, UserWarning):
        warnings.filterwarnings("ignore", category=category, module=rf"({noisy})(\.|$)")
    # the numerical libraries' deprecation notices only: their UserWarnings (ConvergenceWarning) stay visible
    numeric = "|".join(NUMERIC_MODULES)
    for category in (FutureWarning, DeprecationWarning):
        warnings.filterwarnings("ignore", category=category, module=rf"({numeric})(\.|$)")
    # scipy's bootstrap warns on a degenerate sample; the harness reports such a CI as undefined (None)
    warnings.filterwarnings("ignore", message=".*confidence interval cannot be calculated.*")
    # the harness's own warnings are always shown (added last: the first matching filter wins)
    warnings.filterwarnings("default", category=HarnessWarning)
