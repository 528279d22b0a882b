"""tracker: tracking workbooks for portfolio-assessed UK vocational qualifications.

Generate learner workbooks from qualification data, read them back with every value's location,
validate them against the qualification's rules, and roll a centre's returned workbooks up into
a master. The public API, imported lazily so that ``import tracker`` stays cheap::

    from tracker import load_qualification, new_workbook, read_workbook, validate, rollup

    q = load_qualification("603/4687/5")
    new_workbook(q, record, "jo.xlsx")          # record: tracker.workbook.model.LearnerRecord
    book = read_workbook("jo.xlsx")             # every value with its sheet and cell
    report = validate(["jo.xlsx"])              # tracker.issues.Report
    result = rollup("centre/")                  # merge the centre's inbox into its ledger and master
    centre = open_centre("centre/")             # its data as pandas DataFrames (tracker.centre.api)
    centre.criteria(); centre.learners(); centre.issues(); centre.conflicts()
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_API = {
    "load_qualification": ("tracker.spec.catalogue", "load_qualification"),
    "list_qualifications": ("tracker.spec.catalogue", "list_qualifications"),
    "new_workbook": ("tracker.workbook.writer", "new_workbook"),
    "read_workbook": ("tracker.workbook.reader", "read_workbook"),
    "validate": ("tracker.rules.engine", "validate_paths"),
    "check_workbook": ("tracker.rules.engine", "check_workbook"),
    "rollup": ("tracker.centre.rollup_steps", "rollup"),
    "open_centre": ("tracker.centre.api", "open_centre"),
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    # PEP 562: import the module behind a public name on first use only.
    if name in _API:
        import importlib

        module, attr = _API[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'tracker' has no attribute {name!r}")
