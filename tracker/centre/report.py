"""``tracker report``: the PDF files an external quality assurer (EQA) asks for at a visit.

Two kinds of file, written from the ledger (never from a workbook) into ``DIR/reports/``:

* ``centre-pack.pdf`` -- the centre pack: a summary with charts (learners by status per
  qualification, criteria achieved over time, caseload per assessor), the sampling strategy,
  plan (:func:`sampling_plan_section`, from :mod:`tracker.centre.plan`) and record (what
  was sampled, by whom, when, the outcome) with the coverage table of :mod:`tracker.centre.iqa`,
  the conflict-of-interest register (declared interests, conflicts found), the staff register,
  and the open issues by severity.
* ``learners/<ULN> <name>.pdf`` -- one tracking record per learner: cover details, then unit by
  unit every criterion with its evidence refs, method, dates, assessor, countersignature and IQA
  sampling.

Every page is A4 with the centre (and, in a tracking record, the learner's name and ULN) in its
header and "Page n of N" in its footer; body text is 8 pt or more (tests measure the words'
heights in the PDF). PDFs are drawn with ReportLab's platypus (flowing tables that split across
pages and repeat their header rows) and charts with matplotlib's Agg backend (no display, no
spreadsheet application); both are imported only here, so other commands do not pay for them.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker.centre import ledger as LG
from tracker.centre.folder import Centre, open_centre
from tracker.centre.iqa import SCOPE_ALL, SCOPE_METHOD, SCOPE_UNIT, CoverageRow, sampling_coverage
from tracker.centre.master import (STATUS_COMPLETE, STATUS_IN_PROGRESS, STATUS_NOT_STARTED, STATUSES, RAG,
                                   LearnerView, Qualifications, achieved_months, caseload_assessor,
                                   cumulative_by_month, iter_learners, learner_activity, learner_on_track,
                                   pathway_label)
from tracker.errors import CentreError, TrackerError
from tracker.workbook import layout as WL
from tracker.workbook.model import split_names

if TYPE_CHECKING:
    from tracker.register import Register

PACK_NAME = "centre-pack.pdf"
LEARNER_DIR = "learners"
BODY_PT = 8.5  # body text; never below 8 pt (EQA legibility; tested)
SMALL_PT = 8.0  # table cells
HEADER_PT = 8.5
CHART_DPI = 150
#: Codes of issues that are conflicts of interest (per workbook: coi-*, centre-wide: centre-iqa-involved).
COI_PREFIX = "coi-"
COI_CENTRE_CODES = ("centre-iqa-involved",)
SEVERITY_ORDER = ("error", "warning", "info")

_F = LG.ENTRY_FIELDS
_I = {f: i for i, f in enumerate(_F)}
_H = {c.key: c.header for c in WL.CRITERION_COLUMNS}


@dataclass(slots=True)
class ReportResult:
    """What ``tracker report`` wrote."""

    pack: Path | None
    learners: list[Path] = field(default_factory=list)
    pages: dict[Path, int] = field(default_factory=dict)
    #: the folder written to (``DIR/reports`` unless told otherwise)
    folder: Path | None = None


# == data =========================================================================================


@dataclass(slots=True)
class PackData:
    """Everything the centre pack shows, read from the ledger and the register once."""

    centre: Centre
    views: list[LearnerView]
    coverage: list[CoverageRow]
    sampled: list[LG.SampledRow]
    register: Register | None
    register_problem: str | None
    issues: list[tuple[str, str, str, str]]  # severity, who, code, message
    conflicts_found: list[tuple[str, str, str]]  # who, code, message
    open_conflicts: int
    last_run: LG.RunInfo | None

    @property
    def as_of(self) -> dt.date:
        """The day on-track is judged at: the latest roll-up's, as in the master."""
        return dt.date.fromisoformat(self.last_run.started[:10]) if self.last_run else dt.date.today()


def _read_register(centre: Centre) -> tuple[Register | None, str | None]:
    if not centre.register.is_file():
        return None, f"no centre register at {centre.register.name}"
    from tracker.register import read_register

    try:
        reg = read_register(centre.register)[0]
    except TrackerError as e:
        return None, str(e)
    reg.policy = centre.policy  # the sampling plan's rates, as the roll-up plans with them
    return reg, None


def pack_data(conn: sqlite3.Connection, centre: Centre) -> PackData:
    """Read what the centre pack shows (one pass over the ledger)."""
    register, problem = _read_register(centre)
    quals = Qualifications([centre.specs])
    views = list(iter_learners(conn, quals))
    issues: list[tuple[str, str, str, str]] = []
    coi: list[tuple[str, str, str]] = []
    for fi in LG.latest_return_issues(conn):
        who = f"{fi.name} ({fi.uln})"
        issues.append((fi.issue.severity, who, fi.issue.code, fi.issue.message))
        if fi.issue.code.startswith(COI_PREFIX):
            coi.append((who, fi.issue.code, fi.issue.message))
    for ci in LG.centre_issues(conn):
        who = "Centre" if ci.subject == "centre" else f"Centre register {ci.file or ''}".strip()
        issues.append((ci.severity, who, ci.code, ci.message))
        if ci.code in COI_CENTRE_CODES or ci.code.startswith(COI_PREFIX):
            coi.append((who, ci.code, ci.message))
    issues.sort(key=lambda t: (SEVERITY_ORDER.index(t[0]) if t[0] in SEVERITY_ORDER else 9, t[1], t[2]))
    return PackData(centre, views, sampling_coverage(conn, register), LG.sampled_rows(conn), register, problem,
                    issues, coi, LG.open_conflict_count(conn), LG.latest_run(conn))


def _date(text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(str(text)[:10])
    except ValueError:
        return None


def uk_date(text: str | None) -> str:
    """An ISO date (or date-time) as dd/mm/yyyy; other text unchanged; '' for none."""
    d = _date(text)
    return d.strftime("%d/%m/%Y") if d else (text or "")


def achieved_by_month(views: Iterable[LearnerView]) -> dict[str, list[tuple[dt.date, int]]]:
    """Per qualification number: (first day of a month, required criteria achieved up to the end of
    that month), cumulative -- as the master's Dashboard draws it (:func:`achieved_months`,
    :func:`cumulative_by_month`)."""
    per: dict[str, Counter[dt.date]] = defaultdict(Counter)
    for v in views:
        per[v.learner.qualification_number].update(achieved_months(v))
    span, series = cumulative_by_month(per)
    return {qn: list(zip(span, totals)) for qn, totals in series.items()}


def caseload(views: Iterable[LearnerView]) -> dict[str, Counter[str]]:
    """Assessor (the first name on the cover, as the master's Caseload counts them) -> learners by
    status."""
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for v in views:
        out[caseload_assessor(v.learner.assessor)][v.status] += 1
    return dict(sorted(out.items(), key=lambda kv: kv[0].casefold()))


# == charts (matplotlib, Agg) =====================================================================


def _png(fig: Any) -> io.BytesIO:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=CHART_DPI, bbox_inches="tight")
    buf.seek(0)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display: a server, a scheduled job, a test
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False})
    return plt


def status_chart(views: Sequence[LearnerView]) -> io.BytesIO:
    """Stacked horizontal bars: learners by status, one bar per qualification."""
    plt = _pyplot()
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for v in views:
        per[v.learner.qualification_number][v.status] += 1
    quals = sorted(per)
    fig, ax = plt.subplots(figsize=(7, 0.8 + 0.6 * max(len(quals), 1)))
    left = [0] * len(quals)
    for s in STATUSES:
        vals = [per[q][s] for q in quals]
        ax.barh(quals, vals, left=left, color=RAG[s][0], edgecolor="#606060", label=s)
        for i, (lft, val) in enumerate(zip(left, vals)):
            if val:
                ax.text(lft + val / 2, i, str(val), ha="center", va="center", color=RAG[s][1])
        left = [a + b for a, b in zip(left, vals)]
    ax.set_xlabel("Learners")
    ax.set_title("Learners by status, per qualification")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.35), ncol=3, frameon=False)
    return _png(fig)


def progress_chart(views: Sequence[LearnerView]) -> io.BytesIO:
    """Lines: required criteria achieved, cumulative by month of the assessor's date."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 2.8))
    series = achieved_by_month(views)
    for qn, pts in series.items():
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=qn)
    if not series:
        ax.text(0.5, 0.5, "No dated decisions yet", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylabel("Criteria achieved")
    ax.set_title("Criteria achieved over time (by assessor date)")
    ax.grid(axis="y", color="#dddddd")
    if series:
        ax.legend(frameon=False)
    fig.autofmt_xdate()
    return _png(fig)


def caseload_chart(views: Sequence[LearnerView]) -> io.BytesIO:
    """Stacked horizontal bars: each assessor's learners by status."""
    plt = _pyplot()
    load = caseload(views)
    names = list(load)[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.8 + 0.4 * max(len(names), 1)))
    left = [0] * len(names)
    for s in STATUSES:
        vals = [load[n][s] for n in names]
        ax.barh(names, vals, left=left, color=RAG[s][0], edgecolor="#606060", label=s)
        left = [a + b for a, b in zip(left, vals)]
    ax.set_xlabel("Learners")
    ax.set_title("Caseload per assessor")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=3, frameon=False)
    return _png(fig)


# == PDF building blocks (ReportLab) ==============================================================


def _styles() -> dict[str, Any]:
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet

    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontName="Helvetica", fontSize=BODY_PT,
                          leading=BODY_PT * 1.3, spaceAfter=3)
    return {
        "body": body,
        "cell": ParagraphStyle("cell", parent=body, fontSize=SMALL_PT, leading=SMALL_PT * 1.2, spaceAfter=0),
        "head": ParagraphStyle("head", parent=body, fontName="Helvetica-Bold", fontSize=SMALL_PT,
                               leading=SMALL_PT * 1.2, spaceAfter=0, textColor="#FFFFFF"),
        "h1": ParagraphStyle("h1", parent=base["Heading1"], fontName="Helvetica-Bold", fontSize=16, spaceAfter=6),
        "h2": ParagraphStyle("h2", parent=base["Heading2"], fontName="Helvetica-Bold", fontSize=12,
                             spaceBefore=8, spaceAfter=4),
        "h3": ParagraphStyle("h3", parent=base["Heading3"], fontName="Helvetica-Bold", fontSize=10,
                             spaceBefore=6, spaceAfter=3),
    }


def _esc(text: Any) -> str:
    """Text for a ReportLab paragraph: its mini-markup needs &, < and > escaped (a learner's
    value is data, never markup)."""
    s = "" if text is None else str(text)
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _table(st: dict[str, Any], headers: Sequence[str], rows: Sequence[Sequence[Any]], widths: Sequence[float],
           *, shade: Callable[[int, Sequence[Any]], str | None] | None = None) -> Any:
    """A table that splits across pages and repeats its header row; every cell a paragraph (so
    long text wraps instead of running over the next column)."""
    from reportlab.lib import colors
    from reportlab.platypus import LongTable, Paragraph, TableStyle

    data = [[Paragraph(_esc(h), st["head"]) for h in headers]]
    data += [[Paragraph(_esc(c), st["cell"]) for c in row] for row in rows]
    t = LongTable(data, colWidths=list(widths), repeatRows=1)
    style = [
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#1F3864")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#A0A0A0")),
        ("LEFTPADDING", (0, 0), (-1, -1), 2.5), ("RIGHTPADDING", (0, 0), (-1, -1), 2.5),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    for i, row in enumerate(rows, start=1):
        colour = shade(i, row) if shade else None
        if colour is None and i % 2 == 0:
            colour = "#F2F2F2"
        if colour:
            style.append(("BACKGROUND", (0, i), (-1, i), colors.HexColor(colour)))
    t.setStyle(TableStyle(style))
    return t


def _numbered_canvas(header: Callable[[Any, int, int], None]) -> type:
    """A canvas class that holds every page until the end, so each page can say "Page n of N"
    (the total is known only once the last page is laid out)."""
    from reportlab.pdfgen.canvas import Canvas

    class NumberedCanvas(Canvas):  # type: ignore[misc]
        def __init__(self, *args: Any, **kw: Any) -> None:
            super().__init__(*args, **kw)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 - ReportLab's name
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                header(self, self._pageNumber, total)
                super().showPage()
            super().save()

    return NumberedCanvas


def _page_decor(left: str, right: str, landscape: bool) -> Callable[[Any, int, int], None]:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.pagesizes import landscape as land

    w, h = land(A4) if landscape else A4

    def draw(c: Any, page: int, total: int) -> None:
        c.saveState()
        c.setFont("Helvetica", HEADER_PT)
        c.setFillColorRGB(0.25, 0.25, 0.25)
        c.drawString(36, h - 26, left)
        c.drawRightString(w - 36, h - 26, right)
        c.setStrokeColorRGB(0.6, 0.6, 0.6)
        c.line(36, h - 30, w - 36, h - 30)
        c.drawString(36, 20, f"Printed {dt.date.today():%d/%m/%Y} by tracker from the centre ledger")
        c.drawRightString(w - 36, 20, f"Page {page} of {total}")
        c.restoreState()

    return draw


def _build(path: Path, story: list[Any], left: str, right: str, *, landscape: bool, title: str) -> int:
    """Lay ``story`` out on A4 pages into ``path``; returns the number of pages."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.pagesizes import landscape as land
    from reportlab.platypus import SimpleDocTemplate

    size = land(A4) if landscape else A4
    doc = SimpleDocTemplate(str(path), pagesize=size, leftMargin=36, rightMargin=36, topMargin=42,
                            bottomMargin=36, title=title, author="tracker")
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.build(story, canvasmaker=_numbered_canvas(_page_decor(left, right, landscape)))
    return int(doc.page)


def _centre_title(centre: Centre) -> str:
    parts = [centre.name or "Centre", f"centre {centre.number}" if centre.number else ""]
    return " - ".join(p for p in parts if p)


# == the centre pack ==============================================================================


STRATEGY = (
    "Every assessor's Met decisions are sampled so that, over the qualification, each assessor, each "
    "unit and each assessment method is covered; every learner is sampled at least once before a claim "
    "for certification. Trainee (working towards) assessors are sampled at 100% until they qualify, and "
    "each of their decisions is countersigned by a qualified assessor. Interim sampling looks at work in "
    "progress; summative sampling at Met decisions. An IQA never samples a learner they assessed, taught "
    "or have a declared interest in. Gaps found by the centre checks are listed below under Coverage and "
    "in Open issues.",
)


def sampling_plan_section(conn: sqlite3.Connection, data: PackData, st: dict[str, Any]) -> list[Any]:
    """The centre's sampling plan (:mod:`tracker.centre.plan`): each assessor's risk rating against
    their sampling rate, then the decisions planned for sampling next, as of the roll-up that made
    the plan (so the pack shows the plan the master shows)."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph

    from tracker.centre.plan import PLAN_HEADERS, RISK_HEADERS, make_plan, plan_date, plan_rows, risk_rows
    from tracker.register import Register

    register = data.register if data.register is not None else Register(policy=data.centre.policy)
    made = plan_date(conn) or data.as_of
    plan = make_plan(conn, register, made, (str(data.centre.specs),))
    out: list[Any] = [Paragraph(
        f"Made by the roll-up of {made:%d/%m/%Y} from the centre's sampling policy: each assessor's risk "
        "rating sets the share of their Met decisions to sample; the items below are the decisions to "
        "sample next, each with its reason.", st["body"])]
    if not plan.risks:
        return out + [Paragraph("No assessor has a decision to sample yet.", st["body"])]
    risks = [[a, lvl, why, f"{rate:.0%}", n, sampled, planned, overdue, ok]
             for a, lvl, why, rate, n, sampled, planned, overdue, ok in risk_rows(plan)]
    out.append(_table(st, list(RISK_HEADERS), risks,
                      [26 * mm, 13 * mm, 44 * mm, 11 * mm, 16 * mm, 14 * mm, 14 * mm, 14 * mm, 18 * mm],
                      shade=lambda i, r: "#FFC7CE" if r[-1] != WL.YES else None))
    items = [[iqa or "(no IQA)", a, who, qn, unit, ref, kind, why,
              uk_date(on.isoformat() if isinstance(on, dt.date) else None)]
             for iqa, a, who, qn, unit, ref, kind, why, on in plan_rows(plan)]
    if items:
        out.append(Paragraph(f"{len(items)} decision(s) planned for sampling.", st["body"]))
        out.append(_table(st, list(PLAN_HEADERS), items,
                          [19 * mm, 19 * mm, 23 * mm, 21 * mm, 9 * mm, 10 * mm, 17 * mm, 36 * mm, 16 * mm]))
    else:
        out.append(Paragraph("Nothing to plan: every assessor's sampling is up to their rate.", st["body"]))
    return out


def _qualification(name: str, status: str | None) -> str:
    """A register qualification with its status: "TAQA ... (Held)"; the status alone says nothing
    without a qualification (the register's "None" choice means none held)."""
    return f"{name} ({status})" if name and status else name


def _pack_story(conn: sqlite3.Connection, data: PackData) -> list[Any]:
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, PageBreak, Paragraph, Spacer

    st = _styles()
    c = data.centre
    views = data.views
    story: list[Any] = [Paragraph(f"EQA visit pack: {_esc(_centre_title(c))}", st["h1"])]
    run = data.last_run
    story.append(Paragraph(
        f"Built from the centre ledger after roll-up {run.id} on {_esc(uk_date(run.started))} {run.started[11:16]}."
        if run else "Built from the centre ledger (no roll-up yet).", st["body"]))
    n = len(views)
    counts = Counter(v.status for v in views)
    avg = sum(v.percent for v in views) / n if n else 0.0
    story.append(Paragraph(
        f"{n} learner(s): {counts[STATUS_COMPLETE]} complete, {counts[STATUS_IN_PROGRESS]} in progress, "
        f"{counts[STATUS_NOT_STARTED]} not started; average {avg:.0%} of required criteria achieved; "
        f"{data.open_conflicts} open merge conflict(s).", st["body"]))

    story.append(Paragraph("Summary", st["h2"]))
    per: dict[str, list[LearnerView]] = defaultdict(list)
    for v in views:
        per[v.learner.qualification_number].append(v)
    rows = []
    for qn, vs in sorted(per.items()):
        q = vs[0].qualification
        cs = Counter(v.status for v in vs)
        rows.append([qn, q.title if q else "(not installed)", len(vs), cs[STATUS_NOT_STARTED],
                     cs[STATUS_IN_PROGRESS], cs[STATUS_COMPLETE], f"{sum(v.percent for v in vs) / len(vs):.0%}"])
    story.append(_table(st, ["Qualification number", "Qualification", "Learners", STATUS_NOT_STARTED,
                             STATUS_IN_PROGRESS, STATUS_COMPLETE, "Average % complete"], rows,
                        [28 * mm, 62 * mm, 16 * mm, 18 * mm, 18 * mm, 18 * mm, 20 * mm]))
    for chart, height in ((status_chart(views), 48), (progress_chart(views), 62), (caseload_chart(views), 70)):
        story.append(Spacer(1, 4 * mm))
        img = Image(chart)
        ratio = img.imageHeight / img.imageWidth
        width = 170 * mm
        img.drawWidth, img.drawHeight = width, width * ratio
        if img.drawHeight > height * mm * 1.6:
            img.drawHeight = height * mm * 1.6
            img.drawWidth = img.drawHeight / ratio
        story.append(img)

    story.append(PageBreak())
    story.append(Paragraph("Learners", st["h2"]))
    rows = [[v.learner.name, v.learner.uln, v.learner.qualification_number, v.learner.assessor or "",
             v.learner.iqa or "", f"{v.criteria_met}/{v.criteria_required}", f"{v.percent:.0%}", v.status,
             uk_date(str(learner_activity(v) or "")), uk_date(v.learner.planned_end_date),
             learner_on_track(v, data.as_of)] for v in views]
    story.append(Paragraph(f"On track as of {data.as_of:%d/%m/%Y} (the latest roll-up).", st["body"]))
    story.append(_table(st, ["Learner", "ULN", "Qualification", "Assessor", "IQA", "Criteria", "%", "Status",
                             "Last activity", WL.COVER_LABELS["planned_end_date"], "On track"], rows,
                        [27 * mm, 17 * mm, 16 * mm, 19 * mm, 18 * mm, 11 * mm, 8 * mm, 15 * mm, 15 * mm, 15 * mm,
                         17 * mm]))

    story.append(PageBreak())
    story.append(Paragraph("Sampling strategy", st["h2"]))
    story += [Paragraph(_esc(t), st["body"]) for t in STRATEGY]
    story.append(Paragraph("Sampling plan", st["h2"]))
    story += sampling_plan_section(conn, data, st)
    story.append(Paragraph("Sampling record", st["h2"]))
    if data.sampled:
        story.append(Paragraph(f"{len(data.sampled)} criterion decision(s) sampled by an IQA, by IQA date.",
                               st["body"]))
        rows = [[uk_date(s.iqa_date), s.iqa or "", f"{s.name} ({s.uln})", f"{s.qualification_number} unit {s.unit}",
                 s.ref, s.method or "", s.assessor or "", uk_date(s.assessor_date), s.iqa_decision or "Sampled"]
                for s in data.sampled]
        story.append(_table(st, [_H["iqa_date"], "Sampled by", "Learner", "Unit", "Ref", "Method", "Assessor",
                                 _H["assessor_date"], "Outcome"], rows,
                            [17 * mm, 22 * mm, 31 * mm, 24 * mm, 10 * mm, 22 * mm, 22 * mm, 17 * mm, 17 * mm],
                            shade=lambda i, r: "#FFEB9C" if r[-1] == WL.IQA_DECISIONS[1] else None))
    else:
        story.append(Paragraph("No decision has been sampled by an IQA yet.", st["body"]))
    story.append(Paragraph("Coverage (Met decisions sampled per assessor, unit and method)", st["h3"]))
    rows = []
    for r in data.coverage:
        what = ("All units and methods" if r.scope == SCOPE_ALL else
                f"{r.qualification_number} unit {r.unit}" if r.scope == SCOPE_UNIT else f"Method: {r.method}")
        rows.append([r.assessor + (" (trainee)" if r.trainee else ""), what, r.decisions, r.sampled,
                     f"{r.fraction:.0%}", "100%" if r.trainee else "", r.flag])
    if rows:
        story.append(_table(st, ["Assessor", "Scope", "Met decisions", "Sampled", "% sampled", "Target", "Flag"],
                            rows, [38 * mm, 50 * mm, 18 * mm, 16 * mm, 16 * mm, 14 * mm, 30 * mm],
                            shade=lambda i, r: "#FFC7CE" if r[-1] else None))
    else:
        story.append(Paragraph("No Met decisions yet.", st["body"]))

    story.append(PageBreak())
    story.append(Paragraph("Conflict-of-interest register", st["h2"]))
    story.append(Paragraph("Declared interests (centre register, Interests sheet)", st["h3"]))
    reg = data.register
    if reg is None:
        story.append(Paragraph(_esc(f"The centre register could not be read: {data.register_problem}."), st["body"]))
    elif reg.interests:
        story.append(_table(st, ["Staff member", "Learner", "Nature of interest", "Declared"],
                            [[i.staff, i.learner, i.nature, i.declared.strftime("%d/%m/%Y") if i.declared else ""]
                             for i in reg.interests], [40 * mm, 40 * mm, 70 * mm, 20 * mm]))
    else:
        story.append(Paragraph("No interests declared.", st["body"]))
    story.append(Paragraph("Conflicts found by the checks", st["h3"]))
    if data.conflicts_found:
        story.append(_table(st, ["Where", "Code", "Finding"], data.conflicts_found, [40 * mm, 32 * mm, 98 * mm]))
    else:
        story.append(Paragraph("None found.", st["body"]))
    story.append(Paragraph("Mitigations (centre register, Mitigations sheet)", st["h3"]))
    if reg is not None and reg.mitigations:
        story.append(_table(st, ["Staff member", "Qualification number", "Mitigation"],
                            [[m.staff, m.qualification_number, m.mitigation] for m in reg.mitigations],
                            [40 * mm, 30 * mm, 100 * mm]))
    else:
        story.append(Paragraph("No mitigation recorded.", st["body"]))

    story.append(Paragraph("Staff register", st["h2"]))
    if reg is not None and reg.staff:
        rows = []
        for m in sorted(reg.staff.values(), key=lambda m: m.name.casefold()):
            rows.append([m.name, ", ".join(sorted(m.roles)),
                         _qualification(m.assessor_qualification, m.assessor_status),
                         _qualification(m.iqa_qualification, m.iqa_status),
                         "Yes" if m.trainee_assessor else "", m.countersigner or ""])
        story.append(_table(st, ["Name", "Roles", "Assessor qualification", "IQA qualification", "Trainee",
                                 "Countersigner"], rows,
                            [32 * mm, 28 * mm, 38 * mm, 34 * mm, 13 * mm, 25 * mm],
                            shade=lambda i, r: "#FFEB9C" if r[4] else None))
    else:
        story.append(Paragraph("No staff in the centre register.", st["body"]))

    story.append(PageBreak())
    story.append(Paragraph("Open issues by severity", st["h2"]))
    sev = Counter(i[0] for i in data.issues)
    story.append(Paragraph(f"{sev['error']} error(s), {sev['warning']} warning(s), {sev['info']} progress note(s) "
                           "(progress notes are not listed here: see each tracking record).", st["body"]))
    rows = [list(i) for i in data.issues if i[0] != "info"]
    if rows:
        story.append(_table(st, ["Severity", "Where", "Code", "Problem"], rows,
                            [16 * mm, 36 * mm, 34 * mm, 84 * mm],
                            shade=lambda i, r: "#FFC7CE" if r[0] == "error" else "#FFEB9C"))
    return story


# == the tracking record of one learner ===========================================================


def _learner_story(v: LearnerView, centre: Centre, as_of: dt.date) -> list[Any]:
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph

    st = _styles()
    d = v.learner
    q = v.qualification
    story: list[Any] = [Paragraph(f"Tracking record: {_esc(d.name)}", st["h1"])]
    cover = [
        (WL.COVER_LABELS["name"], d.name), (WL.COVER_LABELS["uln"], d.uln),
        (WL.COVER_LABELS["qualification"], q.title if q else "(not installed)"),
        (WL.COVER_LABELS["qualification_number"], d.qualification_number),
        (WL.COVER_LABELS["pathway"], pathway_label(q, d.pathway) or ""),
        (WL.COVER_LABELS["registration_date"], uk_date(d.registration_date)),
        (WL.COVER_LABELS["assessor"], d.assessor or ""), (WL.COVER_LABELS["iqa"], d.iqa or ""),
        (WL.COVER_LABELS["tutor"], d.tutor or ""), (WL.COVER_LABELS["employer"], d.employer or ""),
        ("Progress", f"{v.criteria_met} of {v.criteria_required} required criteria achieved ({v.percent:.0%}); "
                     f"{v.units_complete()} unit(s) complete; {v.status}"),
        (WL.COVER_LABELS["planned_end_date"], uk_date(d.planned_end_date)),
        ("Last activity", uk_date(str(learner_activity(v) or ""))),
        ("On track", f"{learner_on_track(v, as_of)} (as of {as_of:%d/%m/%Y})"),
        ("Last return", uk_date(d.last_return)),
    ]
    story.append(_table(st, ["Cover", ""], cover, [50 * mm, 170 * mm]))
    if q is None:
        story.append(Paragraph("The qualification is not installed: criteria cannot be listed by unit.", st["body"]))
        return story
    headers = [_H["ref"], _H["text"], _H["evidence_refs"], _H["method"], _H["evidence_date"], _H["decision"],
               _H["assessor"], "Countersigned by", _H["assessor_date"], _H["iqa_sampled"], _H["iqa"], _H["iqa_date"],
               _H["iqa_decision"]]
    widths = [11, 60, 20, 24, 16, 15, 22, 22, 16, 14, 20, 16, 17]
    for unit in q.units:
        prog = v.units.get(unit.number)
        state = f"{prog.achieved} of {prog.required} required achieved, {prog.progress}" if prog else ""
        story.append(Paragraph(_esc(f"Unit {unit.number} ({unit.ref}): {unit.title}. {state}"), st["h3"]))
        rows = []
        for c in unit.criteria:
            acc = v.criteria.get(c.ref)
            vals: LG.Values = acc.values if acc is not None else (None,) * len(_F)
            names = split_names(vals[_I["assessor"]])

            def g(key: str) -> str:
                x = vals[_I[key]]
                return "" if x is None else str(x)

            text = c.text if len(c.text) <= 140 else c.text[:137].rstrip() + "..."
            if not v.required.get(c.ref):
                text = f"(not required on this pathway) {text}"
            rows.append([c.ref, text, g("evidence_refs"), g("method"), uk_date(g("evidence_date")), g("decision"),
                         names[0] if names else "", " / ".join(names[1:]), uk_date(g("assessor_date")),
                         g("iqa_sampled"), g("iqa"), uk_date(g("iqa_date")), g("iqa_decision")])
        story.append(_table(st, headers, rows, [w * mm for w in widths],
                            shade=lambda i, r: "#C6EFCE" if r[5] == WL.MET else None))
    return story


def _safe_name(text: str) -> str:
    return re.sub(r"[^\w.-]+", " ", text).strip()[:60] or "learner"


def learner_report(v: LearnerView, centre: Centre, path: Path, as_of: dt.date | None = None) -> int:
    """Write one learner's tracking record to ``path``; returns its page count. On track is judged
    as of ``as_of`` (default today)."""
    return _build(path, _learner_story(v, centre, as_of or dt.date.today()), f"{_centre_title(centre)} - tracking record",
                  f"{v.learner.name}, ULN {v.learner.uln}, {v.learner.qualification_number}", landscape=True,
                  title=f"Tracking record - {v.learner.name} ({v.learner.uln})")


def centre_pack(conn: sqlite3.Connection, centre: Centre, path: Path, data: PackData | None = None) -> int:
    """Write the centre pack to ``path``; returns its page count."""
    data = data or pack_data(conn, centre)
    return _build(path, _pack_story(conn, data), f"{_centre_title(centre)} - EQA visit pack",
                  f"{len(data.views)} learner(s)", landscape=False, title=f"EQA visit pack - {_centre_title(centre)}")


def write_reports(root: str | Path, out: str | Path | None = None, learners: Sequence[str] = (),
                  *, pack: bool = True) -> ReportResult:
    """``tracker report``: the centre pack and a tracking record per learner (only the learners
    whose ULN is in ``learners`` when given; a ULN not in the ledger is an error)."""
    centre = open_centre(root)
    target = Path(out) if out else centre.root / "reports"
    if not centre.ledger.is_file():
        raise CentreError(f"{centre.root}: no ledger yet; run `tracker rollup {root}` first")
    conn = LG.connect(centre.ledger, create=False)
    try:
        with LG.snapshot(conn) as snap:
            data = pack_data(snap, centre)
            wanted = set(learners)
            known = {v.learner.uln for v in data.views}
            missing = sorted(wanted - known)
            if missing:
                raise CentreError(f"no learner with ULN {', '.join(missing)} in the ledger of {centre.root}")
            result = ReportResult(None, folder=target)
            if pack and not wanted:
                result.pack = target / PACK_NAME
                result.pages[result.pack] = centre_pack(snap, centre, result.pack, data)
            for v in data.views:
                if wanted and v.learner.uln not in wanted:
                    continue
                # A learner on two qualifications has two records: the number tells them apart.
                qn = v.learner.qualification_number.replace("/", "")
                p = target / LEARNER_DIR / f"{v.learner.uln} {_safe_name(v.learner.name)} {qn}.pdf"
                result.pages[p] = learner_report(v, centre, p, data.as_of)
                result.learners.append(p)
    finally:
        conn.close()
    return result
