"""The merge rules: what a returned criterion row may change in the accepted one.

Per criterion row (fields are the workbook's input columns):

* A row the ledger has not seen, or whose accepted value is not signed off, takes the returned
  values: new work is accepted (a cleared field is cleared).
* A row is **signed off** by the assessor when its accepted decision is ``Met``; by the IQA when
  it has an IQA decision. Signed fields -- decision, assessor, assessor date, evidence refs,
  method, evidence date (assessor); IQA sampled, IQA, IQA date, IQA decision (IQA) -- may be filled
  in where blank (and evidence refs added to), but a returned row that changes or removes a signed
  value is a **conflict**: the accepted row stays, and the conflict records both rows, both source
  files and the fields concerned. An IQA decision ``Referred back`` reopens the row (the assessor
  re-assesses, the IQA re-samples), so nothing on it is guarded.
* A cell the reader could not understand (text in a date column) or a column missing from the
  returned sheet says nothing: the accepted value is kept. Rows missing from a return (a deleted
  sheet) are left as they are.
* An open conflict is closed when a later return agrees with the accepted row (``agreeing-return``),
  replaced when a later return contradicts it differently (``superseded``), or closed by
  :func:`tracker.centre.conflicts.resolve` (``tracker resolve``: ``kept-accepted`` or ``kept-returned``), recorded with who,
  when and a note. A returned value an admin already rejected is not raised again.

**Three-way, when the return carries a base** (a workbook written by ``tracker issue``, stamped
with the rows it was issued with): a field the return did not change since its base says nothing
(the ledger's value stays, even if the ledger moved on meanwhile -- another copy's IQA sample);
a field changed both in the return and in the ledger since the base, to different values, is a
conflict (signed or not); the same change on both sides is agreement; a field changed only in
the return follows the rules above (a signed value changed is still a conflict). A return with no
base (made by ``tracker new`` or before bases existed) is compared with the accepted row alone.

**Columns an assessor added** (a header the layout does not know, e.g. "Assessor comments"): their
values are notes, not sign-offs, so they are never a conflict. Per column (matched by header,
without letter case or extra spaces): a value the return holds replaces the accepted one (a cell
cleared in the return clears it); a column the return does not have leaves the accepted value as
it is. With a base, a value the return did not change since its base says nothing (another copy's
note stays); when both the return and the ledger changed it since the base, differently, the
return's value replaces the accepted one -- the latest return stands -- and the merge log records
both values (the replaced one is also kept in the archived file it came from). This is applied
whatever happens to the row's sign-off fields (a conflict on them keeps the accepted sign-off,
not the note).

Values are compared normalised : names without letter case or extra spaces, the
dropdown columns without letter case, evidence refs as a set.
"""

from __future__ import annotations

import json
from typing import Any

from tracker.centre.ledger import ENTRY_FIELDS, Values
from tracker.workbook import layout as L
from tracker.workbook.model import name_key

ASSESSOR_FIELDS = ("evidence_refs", "method", "evidence_date", "decision", "assessor", "assessor_date")
IQA_FIELDS = ("iqa_sampled", "iqa", "iqa_date", "iqa_decision")
FIELDS = ENTRY_FIELDS
_IDX = {f: i for i, f in enumerate(FIELDS)}
_DECISION = _IDX["decision"]
_IQA_DECISION = _IDX["iqa_decision"]
_NAME_FIELDS = frozenset({"assessor", "iqa"})
_CASELESS = frozenset({"method", "decision", "iqa_sampled", "iqa_decision"})

BLANK: Values = (None,) * len(FIELDS)


def _norm(f: str, v: str | None) -> Any:
    if v is None:
        return None
    if f in _NAME_FIELDS:
        return name_key(v)
    if f == "evidence_refs":
        return tuple(sorted({r.strip().casefold() for r in v.split(",") if r.strip()}))
    if f in _CASELESS:
        return " ".join(v.split()).casefold()
    return " ".join(v.split())


def _refs(v: str | None) -> set[str]:
    return {r.strip().casefold() for r in (v or "").split(",") if r.strip()}


def guarded_fields(accepted: Values) -> frozenset[str]:
    """The fields of an accepted row that a return may not change (see the module doc)."""
    if accepted[_IQA_DECISION] is not None and _norm("iqa_decision", accepted[_IQA_DECISION]) == \
            L.REFERRED_BACK.casefold():
        return frozenset()
    g: set[str] = set()
    if accepted[_DECISION] is not None and _norm("decision", accepted[_DECISION]) == L.MET.casefold():
        g.update(ASSESSOR_FIELDS)
    if accepted[_IQA_DECISION] is not None:
        g.update(IQA_FIELDS)
    return frozenset(g)


def decide(accepted: Values, returned: Values, silent: frozenset[int] = frozenset(),
           base: Values | None = None) -> tuple[Values, list[str]]:
    """(candidate row, contradicted fields) for a returned row against the accepted one.

    ``base``: the row as issued in the returned workbook (None: no base, two-way rules). The
    candidate is the accepted row with every change of the return applied; when the list of
    contradicted fields is empty it is the new accepted row.
    """
    guarded = guarded_fields(accepted)
    out = list(accepted)
    contradicted: list[str] = []
    for i, f in enumerate(FIELDS):
        if i in silent:
            continue
        a, r = accepted[i], returned[i]
        if _norm(f, a) == _norm(f, r):
            continue
        if base is not None:
            b = base[i]
            if _norm(f, r) == _norm(f, b):
                continue  # not changed in the return since it was issued: the ledger's value stays
            if _norm(f, a) != _norm(f, b):
                out[i] = r
                contradicted.append(f)  # changed on both sides, differently
                continue
        out[i] = r
        if f in guarded and a is not None:
            if f == "evidence_refs" and _refs(a) <= _refs(r):
                continue  # evidence added to a signed row: new work
            contradicted.append(f)
    return tuple(out), contradicted


Extra = dict[str, str]  # an added column's header -> its value, in column order


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def merge_extra(accepted: Extra, returned: dict[str, str | None], base: Extra | None = None
                ) -> tuple[Extra, list[tuple[str, str | None, str | None]]]:
    """(new added-column values, values replaced although the ledger had changed them since the
    base: (header, replaced value, returned value)) -- see the module doc.

    ``returned``: every added column of the returned row (None: the cell is blank)."""
    out: Extra = dict(accepted)
    key_of = {_fold(h): h for h in out}
    base_of = {_fold(h): v for h, v in (base or {}).items()}
    replaced: list[tuple[str, str | None, str | None]] = []
    for header, r in returned.items():
        k = _fold(header)
        old_header = key_of.get(k)
        a = out.get(old_header) if old_header is not None else None
        if base is not None and _norm("comments", r) == _norm("comments", base_of.get(k)):
            continue  # not changed in the return since it was issued: the ledger's value stays
        if _norm("comments", a) == _norm("comments", r):
            continue
        if base is not None and _norm("comments", a) != _norm("comments", base_of.get(k)):
            replaced.append((header, a, r))
        if old_header is not None:
            del out[old_header]
        if r is not None:
            out[header] = r
            key_of[k] = header
        else:
            key_of.pop(k, None)
    return out, replaced


def extra_json(extra: Extra) -> str | None:
    """Added columns' values as stored with a criterion row (None when there are none); column
    order is kept (not sorted)."""
    return json.dumps(extra, ensure_ascii=False) if extra else None


def extra_from_json(text: str | None) -> Extra:
    """The inverse of :func:`extra_json`."""
    if not text:
        return {}
    d = json.loads(text)
    return {str(k): str(v) for k, v in d.items()} if isinstance(d, dict) else {}


def values_json(values: Values) -> str:
    """A row as the JSON object stored with a conflict."""
    return json.dumps(dict(zip(FIELDS, values)), ensure_ascii=False, sort_keys=True)


def rows_json(rows: dict[str, Values], extras: dict[str, Extra] | None = None) -> str:
    """Every row of a workbook as issued (ref -> row), as stored with its base; a row's added
    columns under the key ``extra`` (not an entry field name), where it has any."""
    def row(ref: str, v: Values) -> dict[str, Any]:
        d: dict[str, Any] = dict(zip(FIELDS, v))
        if extras and extras.get(ref):
            d["extra"] = extras[ref]
        return d

    return json.dumps({ref: row(ref, v) for ref, v in sorted(rows.items())}, ensure_ascii=False, sort_keys=True)


def extras_from_json(text: str) -> dict[str, Extra]:
    """The added columns' values of every row as issued (ref -> values), from :func:`rows_json`."""
    return {ref: {str(k): str(v) for k, v in d["extra"].items()}
            for ref, d in json.loads(text).items() if isinstance(d.get("extra"), dict)}


def rows_from_json(text: str) -> dict[str, Values]:
    """The inverse of :func:`rows_json`."""
    return {ref: tuple(d.get(f) for f in FIELDS) for ref, d in json.loads(text).items()}


def fingerprint(ledger_id: str, rows_text: str) -> str:
    """The fingerprint stamped in an issued workbook: SHA-256 of the ledger id and every row."""
    import hashlib

    return hashlib.sha256(f"{ledger_id}\n{rows_text}".encode()).hexdigest()


def values_from_json(text: str) -> Values:
    """The inverse of :func:`values_json`."""
    d = json.loads(text)
    return tuple(d.get(f) for f in FIELDS)


def field_label(f: str) -> str:
    """The learner workbook's header of an entry field (Decision, Assessor date ...)."""
    return L.column_by_key(L.CRITERION_COLUMNS, f).header


__all__ = ["ASSESSOR_FIELDS", "BLANK", "FIELDS", "IQA_FIELDS", "Extra", "Values", "decide", "extra_from_json",
           "extra_json", "extras_from_json", "field_label", "fingerprint", "guarded_fields", "merge_extra",
           "rows_from_json", "rows_json", "values_from_json", "values_json"]
