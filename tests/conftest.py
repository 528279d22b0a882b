"""Settings for the whole suite: results that do not depend on the machine's load or on runs before.

* Hypothesis draws the same examples on every run (``derandomize``), keeps no example database
  (``.hypothesis/`` would be shared by two suites run at once in the same checkout, and would
  make one run depend on another), and neither a deadline nor the "too slow" health check -- both
  measure time, so a busy machine made property tests fail that pass on an idle one.
* Every test that needs a folder uses pytest's ``tmp_path`` (unique per test and per run); no
  test uses a fixed path, port or shared temporary name.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "tracker", derandomize=True, database=None, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
settings.load_profile("tracker")
