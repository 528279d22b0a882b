"""Public, stable views of a qualification for scripts (``tracker spec show --json``)."""

from __future__ import annotations

from typing import Any

from tracker.spec.models import Qualification


def to_public_dict(q: Qualification) -> dict[str, Any]:
    """The qualification as plain JSON-ready data: key facts, pathways, readings, units.

    Holds exactly: ``qualification_number``, ``title``, ``level``, ``credit``, ``glh``, ``tqt``,
    ``pathways`` (id, label), ``readings`` (id, description, default) and ``units`` (number, ref,
    title, level, glh, credit, ``criteria`` as ``{ref, text, kind}`` and ``pathway_groups`` as
    ``{id, readings, options}``).
    """
    return {
        "qualification_number": q.number,
        "title": q.title,
        "level": q.level,
        "credit": q.credit,
        "glh": q.glh,
        "tqt": q.tqt,
        "pathways": [{"id": p.id, "label": p.label} for p in q.pathways],
        "readings": [{"id": r.id, "description": r.description, "default": r.default}
                     for r in q.readings],
        "units": [
            {
                "number": u.number,
                "ref": u.ref,
                "title": u.title,
                "level": u.level,
                "glh": u.glh,
                "credit": u.credit,
                "criteria": [{"ref": c.ref, "text": c.text, "kind": c.kind.value}
                             for c in u.criteria],
                "pathway_groups": [{"id": g.id, "readings": list(g.readings),
                                    "options": {p: list(refs) for p, refs in g.options.items()}}
                                   for g in u.pathway_groups],
            }
            for u in q.units
        ],
    }


def to_text(q: Qualification) -> str:
    """A plain-text rendering of a qualification: key facts, pathways, readings, units, criteria."""
    out = [f"{q.number}  {q.title}",
           f"Level {q.level}, {q.credit} credits, {q.glh} GLH, TQT {q.tqt}; "
           f"{len(q.units)} units, {q.criterion_count()} criteria"]
    if q.pathways:
        out.append("Pathways: " + ", ".join(f"{p.label} ({p.id})" for p in q.pathways))
    for r in q.readings:
        out.append(f"Reading {r.id}{' (default)' if r.default else ''}: {r.description}")
    for u in q.units:
        out.append("")
        out.append(f"Unit {u.number}: {u.title}  [{u.ref}, level {u.level}, {u.glh} GLH, "
                   f"{u.credit} credits]")
        for c in u.criteria:
            out.append(f"  {c.ref:<7} {c.kind.label:<10} {c.text}")
        for g in u.pathway_groups:
            when = f" (reading: {', '.join(g.readings)})" if g.readings else ""
            opts = "; ".join(f"{p}: {', '.join(refs)}" for p, refs in g.options.items())
            out.append(f"  either/or {g.id}{when}: {opts}")
    return "\n".join(out) + "\n"
