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
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "tracker", derandomize=True, database=None, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
settings.load_profile("tracker")



@pytest.fixture(autouse=True, scope="session")
def _private_spec_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The cache of validated qualification files (tracker.spec.cache) of this run only, for this
    process and the commands it starts: never the user's ``~/.cache``, never shared with another
    run."""
    old = os.environ.get("TRACKER_CACHE_DIR")
    os.environ["TRACKER_CACHE_DIR"] = str(tmp_path_factory.mktemp("tracker-cache"))
    yield
    if old is None:
        os.environ.pop("TRACKER_CACHE_DIR", None)
    else:
        os.environ["TRACKER_CACHE_DIR"] = old
