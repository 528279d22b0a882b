"""Evidence: refs on criterion rows exist in the evidence log; methods fit the criterion's kind.

Evidence refs are compared ignoring letter case and spacing (``e12`` matches ``E12``). The
specifications list typical methods per criterion kind (the qualification's ``typical_methods``;
recognition of prior learning too where the centre policy's ``rpl`` says the centre applied to use it)
but allow any valid and reliable method, so an atypical or unlisted method is a warning only.
"""

from __future__ import annotations

from collections.abc import Iterator

from tracker.issues import Issue, Severity, issue_type
from tracker.rules.checks.base import Context, check
from tracker.workbook import layout as L
from tracker.workbook.model import EvidenceRow

REF_UNKNOWN = issue_type(
    "evidence-ref-unknown", Severity.ERROR, "Evidence ref not in the evidence log",
    "{ref} quotes evidence ref '{evidence}', which is not in the evidence log",
    "Every evidence ref quoted against a criterion must be listed on the Evidence sheet, so that an "
    "assessor, IQA or EQA can find the evidence.",
    "Add the evidence to the Evidence sheet (ref, description, method, date, where it is kept), or "
    "correct the ref on the criterion row.", group="evidence")
METHOD_ATYPICAL = issue_type(
    "evidence-method-atypical", Severity.WARNING, "Method not typical for the criterion's kind",
    "{ref} is a {kind} criterion assessed by {method}, which is not a typical method for it (typical: {typical})",
    "The specification lists typical assessment methods per kind of criterion: for knowledge, "
    "worksheets, questioning, assignments, reports and professional discussion; for skills and "
    "behaviours, observation, witness testimony, professional discussion and reports. Other methods "
    "are allowed when they are valid and reliable.",
    "Check the method is valid and reliable for this criterion; if so, nothing needs to change.",
    group="evidence")
METHOD_UNLISTED = issue_type(
    "evidence-method-unlisted", Severity.WARNING, "Method not in the list",
    "{ref}'s method '{method}' is not one of the listed assessment methods",
    "The Method column's dropdown lists the usual assessment methods; other methods are allowed when "
    "valid and reliable, but should be named clearly.",
    "Choose a method from the dropdown, or keep a clearly named method that is valid and reliable.",
    group="evidence")
LOG_DUPLICATE = issue_type(
    "evidence-log-duplicate", Severity.WARNING, "Evidence ref listed twice",
    "Evidence ref '{evidence}' is listed more than once in the evidence log (rows {rows})",
    "Two rows of the evidence log share one ref, so a criterion quoting it does not say which "
    "evidence is meant.",
    "Give each piece of evidence its own ref.", group="evidence")
LOG_NO_REF = issue_type(
    "evidence-log-no-ref", Severity.WARNING, "Evidence log row without a ref",
    "Row {row} of the evidence log describes evidence but has no Evidence ref",
    "An evidence log row without a ref cannot be quoted by any criterion.",
    "Give the row an Evidence ref, and quote it on the criteria it supports.", group="evidence")

_KINDS = {"K": "knowledge", "S": "skill", "B": "behaviour"}
_METHODS = frozenset(L.METHODS)


def evidence_key(ref: str) -> str:
    """An evidence ref for comparison: spaces removed, case-folded."""
    return "".join(ref.split()).casefold()


@check(REF_UNKNOWN, METHOD_ATYPICAL, METHOD_UNLISTED, LOG_DUPLICATE, LOG_NO_REF)
def evidence(ctx: Context) -> Iterator[Issue]:
    """Evidence refs resolve in the log; methods are listed and typical."""
    book = ctx.book
    logged: dict[str, list[EvidenceRow]] = {}
    for er in book.evidence:
        v = er.value("ref")
        if v:
            logged.setdefault(evidence_key(str(v)), []).append(er)
        elif any(c.value is not None for k, c in er.cells.items() if k != "ref"):
            yield ctx.issue(LOG_NO_REF, er.cells.get("ref"), sheet=er.sheet, row=er.row)
    for rows in logged.values():
        if len(rows) > 1:
            yield ctx.issue(LOG_DUPLICATE, rows[1].cells.get("ref"), sheet=rows[1].sheet,
                            evidence=str(rows[0].value("ref")), rows=", ".join(str(r.row) for r in rows))
    check_refs = book.evidence_sheet is not None
    rpl = ctx.register is not None and ctx.register.policy.rpl
    typical = {k.value: [*v, *([L.RPL_METHOD] if rpl else [])]
               for k, v in (ctx.q.typical_methods.items() if ctx.q is not None else ())}
    for info in ctx.row_list:
        row = info.row
        ref = info.criterion.ref
        c = row.cells.get("evidence_refs")
        if check_refs and c is not None and c.value:
            for ev in c.value:
                if evidence_key(ev) not in logged:
                    yield ctx.issue(REF_UNKNOWN, c, unit=info.unit, criterion=ref, ref=ref, evidence=ev)
        m = row.cells.get("method")
        if m is None or m.value is None or m.problem is not None:
            continue
        method = str(m.value)
        kind = info.criterion.kind.value
        if method not in _METHODS:
            yield ctx.issue(METHOD_UNLISTED, m, unit=info.unit, criterion=ref, ref=ref, method=method)
        elif typical.get(kind) and method not in typical[kind]:
            yield ctx.issue(METHOD_ATYPICAL, m, unit=info.unit, criterion=ref, ref=ref, kind=_KINDS[kind],
                            method=method.lower(), typical=", ".join(t.lower() for t in typical[kind]))
