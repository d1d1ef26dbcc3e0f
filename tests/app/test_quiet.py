"""The quiet console: the libraries' deprecation noise is hidden, the harness's own and numerical warnings never."""

from __future__ import annotations

import warnings

from app.quiet import configure
from harness.types import HarnessWarning


def test_quiet_hides_library_noise_but_never_the_harness_warnings_or_numerical_ones() -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.resetwarnings()
        configure(verbose=False)
        warnings.warn("a library's deprecation notice", FutureWarning, stacklevel=1)
        warnings.warn("a library's advice", UserWarning, stacklevel=1)
        warnings.warn("df_gamed: rows out of order", HarnessWarning, stacklevel=1)
        warnings.warn("overflow encountered in exp", RuntimeWarning, stacklevel=1)
    shown = [(w.category, str(w.message)) for w in seen]
    assert shown == [(HarnessWarning, "df_gamed: rows out of order"), (RuntimeWarning, "overflow encountered in exp")]
