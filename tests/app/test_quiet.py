"""The quiet console: the libraries' deprecation noise is hidden, the harness's own and numerical warnings never."""

from __future__ import annotations

import warnings

from app.quiet import configure
from harness.types import HarnessWarning


def test_quiet_hides_library_noise_but_never_the_harness_warnings_or_numerical_ones() -> None:
    """Hidden by the module that issues it: a library's deprecation notice or advice. Shown: the harness's own
    warning, a UserWarning of the project's code, sklearn's ConvergenceWarning (the LC fit), a RuntimeWarning."""
    from sklearn.exceptions import ConvergenceWarning

    def warn(message: str, category: type[Warning], module: str) -> None:
        warnings.warn_explicit(message, category, f"{module.replace('.', '/')}.py", 1, module=module)

    with warnings.catch_warnings(record=True) as seen:
        warnings.resetwarnings()
        configure(verbose=False)
        warn("a library's deprecation notice", FutureWarning, "transformers.modeling_utils")
        warn("a library's advice", UserWarning, "vllm.engine.arg_utils")
        warn("torch's advice", UserWarning, "torch")
        warn("df_gamed: rows out of order", HarnessWarning, "benchmarks.alpaca_eval.lc")
        warn("a project warning", UserWarning, "benchmarks.judge.metrics")
        warn("lbfgs failed to converge", ConvergenceWarning, "sklearn.linear_model._logistic")
        warn("a pandas deprecation", FutureWarning, "pandas.core.frame")
        warn("overflow encountered in exp", RuntimeWarning, "numpy")
    shown = [(w.category, str(w.message)) for w in seen]
    assert shown == [(HarnessWarning, "df_gamed: rows out of order"), (UserWarning, "a project warning"),
                     (ConvergenceWarning, "lbfgs failed to converge"), (RuntimeWarning, "overflow encountered in exp")]  # fmt: skip
