"""tracker: tracking workbooks for portfolio-assessed UK vocational qualifications.

Generate learner workbooks from qualification data, read them back with every value's location,
validate them against the qualification's rules, and roll a centre's returned workbooks up into
a master. Heavy libraries are imported where they are needed, so ``import tracker`` is cheap.
"""

from __future__ import annotations

__version__ = "0.1.0"
