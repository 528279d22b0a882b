"""Import a qualification from the awarding body's specification text (``tracker spec import``).

The input is a PDF-to-text rendering of a specification laid out like the Highfield ones in
``tests/data/specs``: key facts (``Qualification number: 603/4687/5``, ``Credit value: 39``,
``Guided learning hours (GLH): 280``, ``Total qualification time (TQT): 390``), a structure table
(``J/617/6433 Knowing your customers 2 10 2`` -- reference, title, level, GLH, credit; a title may
wrap, and each field may sit on its own line), then one block per unit::

    Unit 1: Knowing your customers
    Unit Ref: J/617/6433 GLH: 10 Credit: 2
    Learning Outcomes Assessment Criteria
    K1 <learning outcome text ...>
    K1.1 <criterion text, wrapped over any number of lines>
    ...
    Amplification and Guidance
    <text>
    Unit Guidance
    <text>

The parser works on the whole text, not on line positions, so different line wrapping, blank
lines, form feeds and page-break lines (the document title with a page number) do not matter, and
unit blocks may come in any order. Every structural fact is cross-checked (structure table against
unit blocks, totals against the key facts, criterion references against their learning outcome),
and each failure is a :class:`Finding` with the line number in the source text.

Either/or pathways are read from pathway sub-headings inside the criteria table ("Face to Face",
"Non-Facing"), from criteria printed with one wording per pathway ("Face-to-face <text> OR
Non-facing <text>"), and from unit-guidance sentences naming the criteria of one pathway. When the
criteria table and the unit guidance disagree the importer records both as *readings* (the
criteria table is the default) and asks a person to decide (a :class:`Question`).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from tracker.errors import SpecError
from tracker.files import write_bytes_atomically
from tracker.spec import catalogue
from tracker.spec.models import Qualification, Question, normalise_text, to_data
from tracker.spec.schema import InvalidData, parse_qualification

Severity = Literal["error", "warning"]

VERSION = "1"

# -- vocabulary --------------------------------------------------------------------------------

# Pathway (learner role) words: id, label, and the phrase as a specification may print it.
_FACE = r"face[\s-]*to[\s-]*face"
PATHWAY_VOCABULARY: tuple[tuple[str, str, str], ...] = (
    ("face-to-face", "Face-to-face", rf"(?<![\w-])(?<!non )(?<!not ){_FACE}(?![\w-])"),
    ("non-facing", "Non-facing",
     rf"(?<![\w-])(?:non[\s-]*facing|non[\s-]*{_FACE}|not[\s-]+{_FACE})(?![\w-])"),
)
_PATHWAY_RES = [(pid, label, re.compile(rx, re.I)) for pid, label, rx in PATHWAY_VOCABULARY]
_ANY_PATHWAY = "|".join(f"(?:{rx})" for _, _, rx in PATHWAY_VOCABULARY)
_PATHWAY_LABELS = {pid: label for pid, label, _ in PATHWAY_VOCABULARY}

# Readings recorded when a unit's criteria table and its unit guidance disagree.
TABLE_READING = "criteria-table"
GUIDANCE_READING = "unit-guidance"

_STOP_WORDS = {"in", "for", "of", "the", "and", "to", "a", "an", "on", "with", "at"}

# -- patterns ----------------------------------------------------------------------------------

_UNIT_REF = r"[A-Z]/\d{3}/\d{4}"
_QUAL_NUMBER = r"\d{3}/\d{4}/[\dX]"
_KEY_FACTS: dict[str, re.Pattern[str]] = {
    "number": re.compile(rf"Qualification\s+number\s*:?\s*(?P<v>{_QUAL_NUMBER})", re.I),
    "credit": re.compile(r"Credit\s+value\s*:?\s*(?P<v>\d+)", re.I),
    "glh": re.compile(r"Guided\s+learning\s+hours\s*(?:\(\s*GLH\s*\))?\s*:?\s*(?P<v>\d+)", re.I),
    "tqt": re.compile(r"Total\s+qualification\s+time\s*(?:\(\s*TQT\s*\))?\s*:?\s*(?P<v>\d+)",
                      re.I),
}
_KEY_FACT_NAMES = {"number": "qualification number", "credit": "credit value",
                   "glh": "guided learning hours (GLH)", "tqt": "total qualification time (TQT)"}

_UNIT_HEADER = re.compile(
    r"(?<!\S)Unit\s+(?P<number>\d+)\s*:\s*"
    r"(?P<title>(?:(?!Unit\s+Ref|Unit\s+\d+\s*:).){1,300}?)\s*"
    rf"Unit\s+Ref(?:erence)?\s*[:.]?\s*(?P<ref>{_UNIT_REF})\s*[,;]?\s*"
    r"GLH\s*[:.]?\s*(?P<glh>\d+)\s*[,;]?\s*Credits?(?:\s+value)?\s*[:.]?\s*(?P<credit>\d+)",
    re.S | re.I,
)
_TABLE_ROW = re.compile(
    rf"(?<!\S)(?P<ref>{_UNIT_REF})\s+"
    rf"(?P<title>\S(?:(?!{_UNIT_REF}|Appendix\s+\d).){{0,300}}?)\s+"
    r"(?P<level>\d{1,2})\s+(?P<glh>\d{1,4})\s+(?P<credit>\d{1,3})(?!\S)",
    re.S,
)
_APPENDIX = re.compile(r"(?<!\S)Appendix\s+\d+\s*:", re.I)
_SECTIONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("amplification", re.compile(r"(?<!\S)Amplification\s+and\s+Guidance(?!\S)", re.I)),
    ("guidance", re.compile(r"(?<!\S)(?:Unit|Assessment)\s+Guidance(?!\S)", re.I)),
)
# The criteria table's column headings (repeated at the top of each page in some renderings).
_COLUMN_HEADINGS = re.compile(
    r"(?<!\S)(?:Learning\s+Outcomes?\s+Assessment\s+Criteria|Learning\s+Outcomes?"
    r"|Assessment\s+Criteria)(?!\S)", re.I)
# A learning-outcome (K1) or criterion (K1.1) reference standing as its own word.
_REF_TOKEN = re.compile(r"(?<!\S)(?P<ref>[KSB]\d+(?:\.\d+)?)[.:]?(?!\S)")
# A pathway sub-heading: the phrase alone at the start of a line, directly before a criterion.
_PATHWAY_HEADING = re.compile(
    rf"(?:^|(?<=\n))[ \t]*(?P<phrase>{_ANY_PATHWAY})[ \t]*:?\s+(?=[KSB]\d+\.\d+[.:]?(?!\S))",
    re.I | re.M,
)
_CRITERION_IN_PROSE = re.compile(r"(?<![\w.])(?P<ref>[KSB]\d+\.\d+)(?!\d)")
_RANGE_IN_PROSE = re.compile(
    r"(?<![\w.])(?P<a>[KSB]\d+\.\d+)\s*(?:-|–|—|to)\s*(?P<b>[KSB]\d+\.\d+)(?!\d)")
_AWARDED_BY = re.compile(r"awarded\s+by\s+(?P<v>[A-Z][\w&’'.-]*(?:\s+[A-Z][\w&’'.-]*)*)")
_PAGE_LINE = re.compile(r"(?:page\s+)?\d+(?:\s+of\s+\d+)?", re.I)


# -- results -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """A cross-check failure, with the 1-based line of the source text it concerns (0: none)."""

    line: int
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.severity}: {self.message}"


@dataclass
class ImportResult:
    """What an import produced: the data, its validated model, findings, questions for a person."""

    source: str
    data: dict[str, Any]
    qualification: Qualification | None
    findings: list[Finding] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        """The findings of severity error."""
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        """The findings of severity warning."""
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when the data validates and no cross-check failed."""
        return self.qualification is not None and not self.errors


# -- the source text ---------------------------------------------------------------------------


class _Text:
    """The cleaned source: same line numbering, page-break noise blanked, offsets -> lines."""

    def __init__(self, raw: str) -> None:
        lines = raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        cleaned = [re.sub(r"[\f\v\u00a0\u2028\u2029]", " ", ln).strip() for ln in lines]
        self.title = ""
        self.title_line = 0
        for i, ln in enumerate(cleaned):
            if ln:
                self.title = normalise_text(re.sub(r"\s+\d+$", "", ln))
                self.title_line = i + 1
                break
        self.noise_lines = 0
        for i, ln in enumerate(cleaned):
            if ln and self._is_noise(ln):
                cleaned[i] = ""
                self.noise_lines += 1
        self.text = "\n".join(cleaned)
        self._starts = [0]
        for ln in cleaned[:-1]:
            self._starts.append(self._starts[-1] + len(ln) + 1)

    def _is_noise(self, line: str) -> bool:
        """A running header/footer: the document title with or without a page number."""
        text = normalise_text(line)
        if _PAGE_LINE.fullmatch(text) and text[:1].isalpha():  # "Page 3", "Page 3 of 40"
            return True
        if not self.title:
            return False
        t = self.title.casefold()
        low = text.casefold()
        if low == t:
            return True
        for rest in (low.removeprefix(t), low.removesuffix(t)):
            if rest != low and _PAGE_LINE.fullmatch(rest.strip()):
                return True
        return False

    def line_of(self, pos: int) -> int:
        """The 1-based line number of character offset ``pos``."""
        return bisect.bisect_right(self._starts, pos)


# -- helpers -----------------------------------------------------------------------------------


def slugify_title(title: str) -> str:
    """An id from a title: 'Highfield Level 2 Diploma in X (RQF)' -> 'highfield-l2-diploma-x'."""
    t = re.sub(r"\([^)]*\)", " ", title)
    t = re.sub(r"\blevel\s+(\d+)\b", r"l\1", t, flags=re.I)
    words = re.findall(r"[a-z0-9]+", t.lower())
    return "-".join(w for w in words if w not in _STOP_WORDS) or "qualification"


# The specifications' "Examples of evidence" bullets, as the workbook's method names (layout.METHODS).
# A bullet is matched by the words it contains; one bullet may name two methods.
METHOD_VOCABULARY: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("worksheet", ("Worksheet",)),
    ("oral and written questioning", ("Oral questioning", "Written questioning")),
    ("oral questioning", ("Oral questioning",)),
    ("written questioning", ("Written questioning",)),
    ("assignment", ("Assignment or project",)),
    ("candidate and peer report", ("Candidate or peer report",)),
    ("professional discussion", ("Professional discussion",)),
    ("observation", ("Observation",)),
    ("witness testimony", ("Witness testimony",)),
    ("product", ("Product evidence",)),
)


def typical_methods_in(text: str) -> dict[str, list[str]]:
    """Criterion kind -> the methods the "Examples of evidence" lists name, in their order.

    Read from the whitespace-normalised text (line breaks do not matter): the bullets after
    "Knowledge criteria:" up to "Skills and behaviour criteria:", then those up to the next
    sentence that is not a bullet ("Assessors can use other methods ...")."""
    flat = normalise_text(text)
    low = flat.casefold()
    out: dict[str, list[str]] = {}
    k = low.find("knowledge criteria:")
    sb = low.find("skills and behaviour criteria:", k + 1) if k >= 0 else -1
    if k < 0 or sb < 0:
        return out
    stop = low.find("assessors can use other methods", sb)
    sections = ((("K",), low[k + len("knowledge criteria:"):sb]),
                (("S", "B"), low[sb + len("skills and behaviour criteria:"):stop if stop > 0 else sb + 600]))
    for kinds, body in sections:
        for bullet in body.split("•")[1:]:
            for words, methods in METHOD_VOCABULARY:
                if words in bullet:
                    for kind in kinds:
                        lst = out.setdefault(kind, [])
                        lst.extend(m for m in methods if m not in lst)
                    break
    return out


def _pathways_in(text: str) -> list[str]:
    """Pathway ids named in ``text``, in vocabulary order."""
    return [pid for pid, _, rx in _PATHWAY_RES if rx.search(text)]


def _pathway_of(phrase: str) -> str | None:
    for pid, _, rx in _PATHWAY_RES:
        if rx.fullmatch(phrase.strip()):
            return pid
    return None


def _same_title(a: str, b: str) -> bool:
    def key(s: str) -> str:
        return re.sub(r"[\W_]+", "", s).casefold()
    return key(a) == key(b)


def _ref_list(refs: list[str]) -> str:
    if len(refs) <= 1:
        return "".join(refs)
    return ", ".join(refs[:-1]) + " and " + refs[-1]


@dataclass
class _Criterion:
    ref: str
    text: str
    line: int
    outcome: str | None
    heading: str | None  # pathway id of the sub-heading it is printed under
    variants: dict[str, str] = field(default_factory=dict)


@dataclass
class _Block:
    number: int
    title: str
    ref: str
    glh: int
    credit: int
    line: int
    glh_line: int
    credit_line: int
    head: int  # offset of the heading
    start: int  # offset of the body (after the heading)
    end: int
    outcomes: list[tuple[str, str, int]] = field(default_factory=list)
    criteria: list[_Criterion] = field(default_factory=list)
    amplification: str = ""
    guidance: str = ""
    headings: dict[str, list[str]] = field(default_factory=dict)
    heading_words: dict[str, str] = field(default_factory=dict)


@dataclass
class _Row:
    ref: str
    title: str
    level: int
    glh: int
    credit: int
    line: int


def _variants(text: str) -> dict[str, str]:
    """Per-pathway wordings of a criterion printed as 'Face-to-face <a> OR Non-facing <b>'."""
    if re.match(rf"(?:{_ANY_PATHWAY})\s*:?\s+", text, re.I) is None:
        return {}
    parts = re.split(rf"\s+OR\s+(?=(?:{_ANY_PATHWAY})\s*:?\s)", text, flags=re.I)
    variants: dict[str, str] = {}
    for part in parts:
        m = re.match(rf"(?P<p>{_ANY_PATHWAY})\s*:?\s+(?P<t>.+)", part, re.I | re.S)
        if m is None:
            return {}
        pid = _pathway_of(m["p"])
        if pid is None or pid in variants:
            return {}
        variants[pid] = normalise_text(m["t"])
    return variants if len(variants) >= 2 else {}


def _same_options(a: dict[str, list[str]], b: dict[str, list[str]]) -> bool:
    return {k: set(v) for k, v in a.items() if v} == {k: set(v) for k, v in b.items() if v}


def _options_text(options: dict[str, list[str]]) -> str:
    return " and ".join(f"{_PATHWAY_LABELS.get(p, p).lower()} learners take {_ref_list(refs)}"
                        for p, refs in options.items())


class _Importer:
    def __init__(self, raw: str, source: str) -> None:
        self.src = _Text(raw)
        self.text = self.src.text
        self.source = source
        self.findings: list[Finding] = []
        self.questions: list[Question] = []

    def find(self, line: int, message: str, severity: Severity = "error") -> None:
        self.findings.append(Finding(line, message, severity))

    # -- top level -----------------------------------------------------------------------------

    def run(self) -> ImportResult:
        facts = self.key_facts()
        blocks = self.unit_blocks()
        rows = self.structure_table(blocks)
        for b in blocks:
            self.parse_block(b)
        self.cross_check(facts, rows, blocks)
        data = self.build(facts, rows, blocks)
        qualification: Qualification | None = None
        try:
            qualification = parse_qualification(data)
        except InvalidData as e:
            problems = "; ".join(msg for _where, msg in e.problems)
            if not any(f.severity == "error" for f in self.findings):
                self.find(0, f"the imported data does not validate: {problems}")
        self.findings.sort(key=lambda f: (f.line, f.severity != "error"))
        return ImportResult(self.source, data, qualification, self.findings, self.questions)

    # -- key facts -----------------------------------------------------------------------------

    def key_facts(self) -> dict[str, tuple[str, int]]:
        facts: dict[str, tuple[str, int]] = {}
        for key, rx in _KEY_FACTS.items():
            m = rx.search(self.text)
            if m is None:
                self.find(0, f"key facts: no {_KEY_FACT_NAMES[key]} found")
            else:
                facts[key] = (m["v"], self.src.line_of(m.start("v")))
        return facts

    # -- unit blocks and the structure table ---------------------------------------------------

    def unit_blocks(self) -> list[_Block]:
        headers = list(_UNIT_HEADER.finditer(self.text))
        appendices = [m.start() for m in _APPENDIX.finditer(self.text)]
        blocks = []
        for i, h in enumerate(headers):
            end = headers[i + 1].start() if i + 1 < len(headers) else len(self.text)
            k = bisect.bisect_right(appendices, h.end())
            if k < len(appendices):
                end = min(end, appendices[k])
            blocks.append(_Block(
                number=int(h["number"]), title=normalise_text(h["title"]), ref=h["ref"].upper(),
                glh=int(h["glh"]), credit=int(h["credit"]), line=self.src.line_of(h.start()),
                glh_line=self.src.line_of(h.start("glh")),
                credit_line=self.src.line_of(h.start("credit")),
                head=h.start(), start=h.end(), end=end))
        if not blocks:
            self.find(0, "no unit blocks found (expected headings like 'Unit 1: Title' followed by"
                         " 'Unit Ref: A/123/4567 GLH: 10 Credit: 2')")
        return blocks

    def structure_table(self, blocks: list[_Block]) -> list[_Row]:
        # Rows are looked for everywhere outside the unit blocks (their headings included).
        gaps: list[tuple[int, int]] = []
        pos = 0
        for b in sorted(blocks, key=lambda x: x.head):
            gaps.append((pos, b.head))
            pos = b.end
        gaps.append((pos, len(self.text)))
        rows: list[_Row] = []
        for start, end in gaps:
            for m in _TABLE_ROW.finditer(self.text, start, end):
                rows.append(_Row(ref=m["ref"], title=normalise_text(m["title"]),
                                 level=int(m["level"]), glh=int(m["glh"]),
                                 credit=int(m["credit"]), line=self.src.line_of(m.start())))
        if not rows:
            self.find(0, "no structure table found (expected rows like "
                         "'A/123/4567 Unit title 2 10 2': reference, title, level, GLH, credit)")
        return rows

    # -- inside a unit block -------------------------------------------------------------------

    def parse_block(self, b: _Block) -> None:
        text = self.text
        sections: list[tuple[int, int, str]] = []
        for name, rx in _SECTIONS:
            for m in rx.finditer(text, b.start, b.end):
                sections.append((m.start(), m.end(), name))
        sections.sort()
        criteria_end = sections[0][0] if sections else b.end
        for i, (_, s_end, name) in enumerate(sections):
            nxt = sections[i + 1][0] if i + 1 < len(sections) else b.end
            body = normalise_text(text[s_end:nxt])
            if name == "amplification":
                b.amplification = f"{b.amplification} {body}".strip()
            else:
                b.guidance = f"{b.guidance} {body}".strip()

        # Mask the column headings (same length, so offsets keep their line numbers).
        region = _COLUMN_HEADINGS.sub(lambda m: re.sub(r"\S", " ", m[0]),
                                      text[b.start:criteria_end])
        base = b.start
        markers: list[tuple[int, int, str, str]] = []  # start, end, kind, value
        heading_spans: list[tuple[int, int]] = []
        for m in _PATHWAY_HEADING.finditer(region):
            pid = _pathway_of(m["phrase"])
            if pid is not None:
                markers.append((m.start("phrase"), m.end(), "heading", pid))
                heading_spans.append((m.start("phrase"), m.end()))
                b.heading_words[pid] = normalise_text(m["phrase"])
        for m in _REF_TOKEN.finditer(region):
            if any(s <= m.start() < e for s, e in heading_spans):
                continue
            kind = "criterion" if "." in m["ref"] else "outcome"
            markers.append((m.start(), m.end(), kind, m["ref"]))
        markers.sort()

        preamble = normalise_text(region[:markers[0][0]] if markers else region)
        if preamble:
            self.find(self.src.line_of(base + region.find(preamble.split()[0])),
                      f"unit {b.number}: text before the first learning outcome was ignored: "
                      f"{preamble[:60]!r}", "warning")
        outcome: str | None = None
        heading: str | None = None
        for i, (start, end, kind, value) in enumerate(markers):
            nxt = markers[i + 1][0] if i + 1 < len(markers) else len(region)
            body = normalise_text(region[end:nxt])
            line = self.src.line_of(base + start)
            if kind == "heading":
                heading = value
            elif kind == "outcome":
                outcome = value
                heading = None
                b.outcomes.append((value, body, line))
            else:
                c = _Criterion(value, body, line, outcome, heading, _variants(body))
                b.criteria.append(c)
                if heading is not None:
                    b.headings.setdefault(heading, []).append(value)

    # -- checks --------------------------------------------------------------------------------

    def cross_check(self, facts: dict[str, tuple[str, int]], rows: list[_Row],
                    blocks: list[_Block]) -> None:
        by_ref_rows: dict[str, _Row] = {}
        for r in rows:
            if r.ref in by_ref_rows:
                self.find(r.line, f"unit {r.ref} appears twice in the structure table "
                                  f"(first at line {by_ref_rows[r.ref].line})")
            else:
                by_ref_rows[r.ref] = r
        by_ref_blocks: dict[str, _Block] = {}
        by_number: dict[int, _Block] = {}
        for b in blocks:
            if b.ref in by_ref_blocks:
                self.find(b.line, f"unit {b.ref} has two content blocks "
                                  f"(the first at line {by_ref_blocks[b.ref].line})")
            else:
                by_ref_blocks[b.ref] = b
            if b.number in by_number:
                self.find(b.line, f"unit number {b.number} is used twice "
                                  f"(the first at line {by_number[b.number].line})")
            else:
                by_number[b.number] = b
        for r in by_ref_rows.values():
            if r.ref not in by_ref_blocks:
                self.find(r.line, f"unit {r.ref} ({r.title}) is in the structure table but has no "
                                  f"content block (no 'Unit N: ... Unit Ref: {r.ref}' heading)")
        for b in by_ref_blocks.values():
            row = by_ref_rows.get(b.ref)
            if row is None:
                if rows:
                    self.find(b.line, f"unit {b.number} ({b.ref}) has a content block but is not in"
                                      " the structure table")
                continue
            if b.glh != row.glh:
                self.find(b.glh_line, f"unit {b.number} ({b.ref}): the unit heading gives GLH "
                                      f"{b.glh}, the structure table (line {row.line}) gives "
                                      f"{row.glh}")
            if b.credit != row.credit:
                self.find(b.credit_line, f"unit {b.number} ({b.ref}): the unit heading gives "
                                         f"credit {b.credit}, the structure table (line "
                                         f"{row.line}) gives {row.credit}")
            if not _same_title(b.title, row.title):
                self.find(b.line, f"unit {b.number}: the unit heading prints the title "
                                  f"{b.title!r}, the structure table {row.title!r} (the structure"
                                  " table's title is used)", "warning")
        if rows:
            for key, what in (("credit", "credits"), ("glh", "GLH")):
                if key not in facts:
                    continue
                value, line = facts[key]
                total = sum(r.credit if key == "credit" else r.glh for r in by_ref_rows.values())
                if total != int(value):
                    self.find(line, f"the structure table's unit {what} add up to {total}, but the "
                                    f"key facts give {_KEY_FACT_NAMES[key]} {value}")
        if "tqt" in facts and "glh" in facts and int(facts["tqt"][0]) < int(facts["glh"][0]):
            self.find(facts["tqt"][1], "total qualification time is less than the guided learning "
                                       "hours", "warning")

        seen: dict[str, int] = {}
        for b in sorted(blocks, key=lambda x: x.start):
            if not b.criteria:
                self.find(b.line, f"unit {b.number} ({b.ref}): no assessment criteria found")
            if not b.outcomes:
                self.find(b.line, f"unit {b.number} ({b.ref}): no learning outcome found "
                                  "(expected a reference like K1 before the criteria)")
            outcome_refs: dict[str, int] = {}
            for ref, text, line in b.outcomes:
                if ref in outcome_refs:
                    self.find(line, f"unit {b.number}: learning outcome {ref} is printed twice")
                outcome_refs[ref] = line
                if not text:
                    self.find(line, f"unit {b.number}: learning outcome {ref} has no text")
            for c in b.criteria:
                if c.ref in seen:
                    self.find(c.line, f"criterion reference {c.ref} is used twice (first at line "
                                      f"{seen[c.ref]})")
                else:
                    seen[c.ref] = c.line
                prefix = c.ref.split(".")[0]
                if c.outcome is None:
                    self.find(c.line, f"unit {b.number}: criterion {c.ref} comes before any "
                                      "learning outcome")
                elif prefix != c.outcome:
                    self.find(c.line, f"unit {b.number}: criterion {c.ref} is printed under "
                                      f"learning outcome {c.outcome}, so its reference should "
                                      f"start {c.outcome}.")
                if not c.text:
                    self.find(c.line, f"unit {b.number}: criterion {c.ref} has no text")

    # -- pathways ------------------------------------------------------------------------------

    def guidance_group(self, b: _Block) -> dict[str, list[str]]:
        """Per pathway, the criteria the unit guidance says a learner on it takes."""
        order = [c.ref for c in b.criteria]
        options: dict[str, list[str]] = {}
        for sentence in re.split(r"(?<=[.;!?])\s+", b.guidance):
            pids = _pathways_in(sentence)
            if len(pids) != 1:
                continue
            refs: list[str] = []
            for m in _RANGE_IN_PROSE.finditer(sentence):
                if m["a"] in order and m["b"] in order:
                    i, j = order.index(m["a"]), order.index(m["b"])
                    refs.extend(order[min(i, j):max(i, j) + 1])
            for m in _CRITERION_IN_PROSE.finditer(sentence):
                if m["ref"] not in order:
                    self.find(b.line, f"unit {b.number}: the unit guidance names criterion "
                                      f"{m['ref']}, which is not in this unit", "warning")
                elif m["ref"] not in refs:
                    refs.append(m["ref"])
            if refs:
                opt = options.setdefault(pids[0], [])
                opt.extend(r for r in sorted(refs, key=order.index) if r not in opt)
        return options if len(options) >= 2 else {}


    def build(self, facts: dict[str, tuple[str, int]], rows: list[_Row],
              blocks: list[_Block]) -> dict[str, Any]:
        rows_by_ref = {r.ref: r for r in rows}
        title = self.src.title
        level_m = re.search(r"\bLevel\s+(\d+)\b", title, re.I)
        if level_m is None:
            self.find(self.src.title_line, f"no level found in the title {title!r}")
        body = _AWARDED_BY.search(self.text)
        awarding_body = normalise_text(body["v"]) if body else ""
        if not awarding_body:
            self.find(0, "the awarding body is not named ('awarded by ...'); fill in "
                         "awarding_body", "warning")
            self.questions.append(Question(where="awarding_body",
                                           text="Which awarding body awards this qualification?"))

        pathways_used: set[str] = set()
        conflicts: list[tuple[_Block, str, str]] = []
        units: list[dict[str, Any]] = []
        seen_refs: set[str] = set()
        for b in sorted(blocks, key=lambda x: x.number):
            if b.ref in seen_refs:
                continue
            seen_refs.add(b.ref)
            row = rows_by_ref.get(b.ref)
            unit: dict[str, Any] = {
                "number": b.number,
                "ref": b.ref,
                "title": row.title if row else b.title,
                "level": row.level if row else (int(level_m[1]) if level_m else 0),
                "glh": row.glh if row else b.glh,
                "credit": row.credit if row else b.credit,
                "learning_outcomes": [{"ref": r, "text": t} for r, t, _ in b.outcomes],
                "criteria": [],
            }
            for c in b.criteria:
                crit: dict[str, Any] = {"ref": c.ref, "text": c.text}
                if c.variants:
                    crit["variants"] = dict(c.variants)
                    pathways_used.update(c.variants)
                crit["kind"] = c.ref[0]
                unit["criteria"].append(crit)
            if b.amplification:
                unit["amplification"] = b.amplification
            if b.guidance:
                unit["guidance"] = b.guidance
            groups = self.groups(b, conflicts)
            for g in groups:
                pathways_used.update(g["options"])
            if groups:
                unit["pathway_groups"] = groups
            units.append(unit)

        pathways = [{"id": pid, "label": label} for pid, label, _ in PATHWAY_VOCABULARY
                    if pid in pathways_used]
        readings: list[dict[str, Any]] = []
        if conflicts:
            where = ", ".join(f"Unit {b.number}" for b, _, _ in conflicts)
            if len(conflicts) == 1:
                table = f"it {conflicts[0][1]}"
                guide = conflicts[0][2]
            else:
                table = "; ".join(f"Unit {b.number}'s criteria table {t}" for b, t, _ in conflicts)
                guide = "; ".join(f"Unit {b.number}'s unit guidance says {g}"
                                  for b, _, g in conflicts)
            readings = [
                {"id": TABLE_READING, "default": True,
                 "description": f"{where} as the criteria table prints it: {table}. The default, "
                                "because the criteria table is what is assessed and the unit "
                                "guidance only advises."},
                {"id": GUIDANCE_READING,
                 "description": f"{where} as the unit guidance reads it: {guide}."},
            ]
        data: dict[str, Any] = {
            "id": slugify_title(title),
            "version": VERSION,
            "awarding_body": awarding_body,
            "number": facts["number"][0] if "number" in facts else "",
            "title": title,
            "level": int(level_m[1]) if level_m else 0,
            "credit": int(facts["credit"][0]) if "credit" in facts else 0,
            "glh": int(facts["glh"][0]) if "glh" in facts else 0,
            "tqt": int(facts["tqt"][0]) if "tqt" in facts else 0,
            "source": self.source,
            "pathways": pathways,
            "typical_methods": typical_methods_in(self.src.text),
            "readings": readings,
        }
        if self.questions:
            data["questions"] = [to_data(q) for q in self.questions]
        data["units"] = units
        return data

    def groups(self, b: _Block, conflicts: list[tuple[_Block, str, str]]) -> list[dict[str, Any]]:
        """The pathway groups of a unit, reconciling the criteria table with the unit guidance."""
        gid = f"unit-{b.number}-role"
        table = {p: refs for p, refs in b.headings.items() if refs}
        guide = self.guidance_group(b)
        words = _ref_list([f'"{w}" ({_ref_list(table[p])})' for p, w in b.heading_words.items()
                           if p in table])
        if table and (not guide or _same_options(table, guide)):
            note = f"Printed under the sub-headings {words}"
            note += "; the unit guidance says the same." if guide else "."
            return [{"id": gid, "options": table, "note": note}]
        if not guide:
            return []
        variant_clash = [c for c in b.criteria if c.variants
                         and {p for p, refs in guide.items() if c.ref in refs} != set(c.variants)]
        if not table and not variant_clash:
            return [{"id": gid, "options": guide,
                     "note": "From the unit guidance; the criteria table prints no pathway "
                             "sub-headings."}]

        # The criteria table and the unit guidance disagree: record both, ask a person.
        parts = []
        if table:
            parts.append("prints " + " and ".join(
                f"{_ref_list(refs)} under \"{b.heading_words.get(p, p)}\""
                for p, refs in table.items()))
        for c in variant_clash:
            parts.append(f"gives {c.ref} a " + " and a ".join(
                f"{_PATHWAY_LABELS.get(p, p).lower()}" for p in c.variants)
                + " wording (every learner takes it, in the wording of their pathway)")
        in_groups = {r for refs in table.values() for r in refs}
        everyone = [c.ref for c in b.criteria if c.ref not in in_groups and not c.variants]
        if everyone:
            parts.append(f"lists {_ref_list(everyone)} for every learner")
        table_text = "; ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]
        guide_text = _options_text(guide)
        conflicts.append((b, table_text, guide_text))
        self.find(b.line, f"unit {b.number}: the criteria table and the unit guidance disagree "
                          f"about pathways; both readings recorded ('{TABLE_READING}' is the "
                          "default)", "warning")
        self.questions.append(Question(
            where=f"Unit {b.number}",
            text=f"The criteria table and the unit guidance disagree. The criteria table "
                 f"{table_text}; the unit guidance says {guide_text}. Both are recorded as "
                 f"readings: '{TABLE_READING}' (the default) follows the criteria table, "
                 f"'{GUIDANCE_READING}' follows the unit guidance. Check with the awarding body "
                 "which is meant, and choose the reading your centre uses."))
        groups: list[dict[str, Any]] = []
        if table:
            groups.append({"id": gid, "readings": [TABLE_READING], "options": table,
                           "note": f"Under the {TABLE_READING} reading: printed under the "
                                   f"sub-headings {words}."})
        groups.append({"id": f"{gid}-guidance" if table else gid, "readings": [GUIDANCE_READING],
                       "options": guide,
                       "note": f"Only under the {GUIDANCE_READING} reading: the unit guidance "
                               f"says {guide_text}. Under the default {TABLE_READING} reading the "
                               f"criteria table applies: it {table_text}."})
        return groups


# -- public API --------------------------------------------------------------------------------


def import_spec_text(text: str, source: str) -> ImportResult:
    """Parse a specification's text into qualification data, with cross-check findings.

    ``source`` is recorded in the data (the text file's name) and used in messages.
    """
    return _Importer(text, source).run()


def import_spec_file(path: str | Path) -> ImportResult:
    """Read a specification text file (UTF-8, or cp1252 as a fallback) and import it."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise SpecError(p, f"cannot read the specification text: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    return import_spec_text(text, p.name)


# -- YAML --------------------------------------------------------------------------------------


class _FlowList(list[str]):
    """A short list of references, written inline: [S9.1, S9.2, S9.3]."""


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)  # indent block sequences under their key


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    tag = "tag:yaml.org,2002:str"
    if len(value) > 60 and "\n" not in value and value == value.strip():
        return dumper.represent_scalar(tag, value, style=">")
    resolve: Callable[[type[yaml.Node], str, tuple[bool, bool]], str] = dumper.resolve
    resolved = resolve(yaml.ScalarNode, value, (True, False))
    if resolved != tag:
        return dumper.represent_scalar(tag, value, style='"')  # "1", not 1
    return dumper.represent_scalar(tag, value)


def _represent_flow(dumper: yaml.SafeDumper, value: _FlowList) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=True)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(_FlowList, _represent_flow)


def _flow_refs(data: Any, key: str = "") -> Any:
    """Mark the short reference lists (group options and readings) to be written inline."""
    if isinstance(data, dict):
        if key == "options":
            return {p: _FlowList(refs) for p, refs in data.items()}
        return {k: _flow_refs(v, k) for k, v in data.items()}
    if isinstance(data, list):
        if key == "readings" and all(isinstance(x, str) for x in data):
            return _FlowList(data)
        return [_flow_refs(x) for x in data]
    return data


def dump_yaml(result: ImportResult | dict[str, Any]) -> str:
    """The qualification data as YAML, in the layout of the bundled data files."""
    data = result.data if isinstance(result, ImportResult) else result
    header = [f"# {data.get('title', '')}, {data.get('number', '')}, as data.",
              f"# Imported by `tracker spec import` from {data.get('source', '')}.",
              "# Review it against the specification, answer the questions (if any), then install",
              "# it with `tracker spec add FILE.yaml`."]
    body = yaml.dump(_flow_refs(data), Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                     width=92, indent=2, default_flow_style=False)
    return "\n".join(header) + "\n" + body


def write_yaml(result: ImportResult | dict[str, Any], path: str | Path) -> Path:
    """Write the imported data to ``path`` as YAML (atomically); returns the path."""
    p = Path(path)
    write_bytes_atomically(p, dump_yaml(result).encode("utf-8"))
    return p


# -- installing --------------------------------------------------------------------------------


def add_spec(path: str | Path, folder: str | Path | None = None) -> Path:
    """Validate a qualification data file and install it in ``folder`` (default: the user spec
    folder; a centre passes its ``specs/``).

    The copy is named ``<id>.yaml`` in :func:`tracker.spec.catalogue.user_spec_dir` (which honours
    ``$TRACKER_SPEC_DIR``); installing a file with the same id again replaces it. Raises
    :class:`SpecError` naming the file when it does not validate, or when another installed file
    in that folder already holds the same qualification number under a different id.
    """
    src = Path(path)
    qualification = catalogue.load_file(src)  # raises SpecError naming the file
    folder = Path(folder) if folder is not None else catalogue.user_spec_dir()
    dest = folder / f"{qualification.id}.yaml"
    if folder.is_dir():
        for other in sorted(folder.glob("*.yaml")):
            if other.name == dest.name:
                continue
            try:
                number = catalogue.load_file(other).number
            except SpecError:
                continue
            if number == qualification.number:
                raise SpecError(src, f"qualification {number} is already installed as {other}; "
                                     "remove that file first or give this one the same id")
    if dest.exists() and dest.resolve() == src.resolve():
        return dest
    write_bytes_atomically(dest, src.read_bytes())
    return dest


def iter_messages(result: ImportResult) -> Iterator[str]:
    """Findings then questions as lines for a person (``source:line: severity: message``)."""
    for f in result.findings:
        where = f"{result.source}:{f.line}" if f.line else result.source
        yield f"{where}: {f.severity}: {f.message}"
    for q in result.questions:
        yield f"{result.source}: question ({q.where}): {q.text}"
