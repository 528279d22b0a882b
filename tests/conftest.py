"""Settings for the whole suite: results that do not depend on the machine's load or on runs before.

* Hypothesis draws the same examples on every run (``derandomize``), keeps no example database
  (``.hypothesis/`` would be shared by two suites run at once in the same checkout, and would
  make one run depend on another), and neither a deadline nor the "too slow" health check -- both
  measure time, so a busy machine made property tests fail that pass on an idle one.
* Every test that needs a folder uses pytest's ``tmp_path`` (unique per test and per run); no
  test uses a fixed path, port or shared temporary name. The cache of validated qualification
  files is the run's own too (below).
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "tracker", derandomize=True, database=None, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
settings.load_profile("tracker")

_CACHE_ENV = "TRACKER_CACHE_DIR"
_saved: dict[str, str | None] = {}


def pytest_configure(config: pytest.Config) -> None:
    """The cache of validated qualification files (tracker.spec.cache) of this run only, for this
    process and the commands it starts: never the user's ``~/.cache``, never shared with another
    run. Set here, before collection, because test modules load qualifications at import."""
    _saved[_CACHE_ENV] = os.environ.get(_CACHE_ENV)
    os.environ[_CACHE_ENV] = tempfile.mkdtemp(prefix="tracker-test-cache-")


def pytest_unconfigure(config: pytest.Config) -> None:
    made = os.environ.get(_CACHE_ENV)
    if made:
        shutil.rmtree(made, ignore_errors=True)
    old = _saved.get(_CACHE_ENV)
    if old is None:
        os.environ.pop(_CACHE_ENV, None)
    else:
        os.environ[_CACHE_ENV] = old
