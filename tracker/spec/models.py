"""Qualification specifications as data: pydantic models for the YAML files in ``spec/data``.

A qualification file holds everything the product needs to know about one awarding-body
specification: key facts, units, learning outcomes, assessment criteria (reference exactly as
printed, never renumbered), amplification/guidance text, and either/or pathway groups.

Two pieces of vocabulary:

* **pathway** -- the learner's role (``face-to-face`` or ``non-facing`` for the Highfield
  customer-service diplomas). A pathway group names, per pathway, the criteria a learner on that
  pathway takes; criteria in no active group are required of everyone.
* **reading** -- where a specification is ambiguous, each defensible interpretation is a reading.
  A pathway group may apply under some readings only. One reading is the default; a centre may
  choose another (centre config, ``tracker new --reading``).

Loading validates the arithmetic and references (see :class:`Qualification`), so a file whose
totals disagree with the key facts, or that names an unknown criterion, is rejected.
"""

from __future__ import annotations

import re
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_WS = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """Collapse every run of whitespace (line breaks from the PDF included) to one space."""
    return _WS.sub(" ", text).strip()


class Kind(str, Enum):
    """Criterion kind, given by the reference's prefix letter."""

    KNOWLEDGE = "K"
    SKILL = "S"
    BEHAVIOUR = "B"

    @property
    def label(self) -> str:
        """The word shown in the workbook's Type column."""
        return {"K": "Knowledge", "S": "Skill", "B": "Behaviour"}[self.value]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Criterion(_Model):
    """One assessment criterion, with its reference exactly as printed (K1.1, S2.10, B17.2)."""

    ref: str = Field(pattern=r"^[KSB]\d+\.\d+$")
    text: str
    kind: Kind
    # Pathway-specific wordings printed inside one criterion (L2 B17.1), keyed by pathway id.
    variants: dict[str, str] = Field(default_factory=dict)

    @field_validator("text")
    @classmethod
    def _norm_text(cls, v: str) -> str:
        return normalise_text(v)

    @field_validator("variants")
    @classmethod
    def _norm_variants(cls, v: dict[str, str]) -> dict[str, str]:
        return {k: normalise_text(t) for k, t in v.items()}

    @model_validator(mode="after")
    def _kind_matches_prefix(self) -> Criterion:
        if self.ref[0] != self.kind.value:
            raise ValueError(f"criterion {self.ref}: kind {self.kind.value} does not match its prefix")
        return self


class LearningOutcome(_Model):
    """A learning outcome block (K1, S9, B17 ...) with its text, whitespace-normalised."""

    ref: str = Field(pattern=r"^[KSB]\d+$")
    text: str

    @field_validator("text")
    @classmethod
    def _norm_text(cls, v: str) -> str:
        return normalise_text(v)


class PathwayGroup(_Model):
    """An either/or choice inside a unit: per pathway id, the criteria a learner on it takes.

    ``readings`` lists the readings under which the group applies; empty means all readings.
    """

    id: str
    options: dict[str, list[str]]
    readings: list[str] = Field(default_factory=list)
    note: str = ""

    def applies(self, reading: str) -> bool:
        """True when this group is in force under ``reading``."""
        return not self.readings or reading in self.readings

    @property
    def criteria(self) -> set[str]:
        """Every criterion reference named by any option."""
        return {ref for refs in self.options.values() for ref in refs}


class Unit(_Model):
    """One unit of the qualification (one sheet of the learner workbook)."""

    number: int = Field(ge=1)
    ref: str = Field(pattern=r"^[A-Z]/\d{3}/\d{4}$")
    title: str
    level: int
    glh: int = Field(ge=0)
    credit: int = Field(ge=0)
    learning_outcomes: list[LearningOutcome]
    criteria: list[Criterion] = Field(min_length=1)
    amplification: str = ""
    guidance: str = ""
    pathway_groups: list[PathwayGroup] = Field(default_factory=list)

    @field_validator("amplification", "guidance", "title")
    @classmethod
    def _norm_text(cls, v: str) -> str:
        return normalise_text(v)

    def criterion(self, ref: str) -> Criterion | None:
        """The criterion with reference ``ref``, or None."""
        for c in self.criteria:
            if c.ref == ref:
                return c
        return None


class Pathway(_Model):
    """A learner pathway (role), e.g. id ``face-to-face`` with label ``Face-to-face``."""

    id: str = Field(pattern=r"^[a-z0-9-]+$")
    label: str


class Reading(_Model):
    """One interpretation of an ambiguous part of the specification."""

    id: str = Field(pattern=r"^[a-z0-9-]+$")
    description: str
    default: bool = False


class Question(_Model):
    """A point a person must decide (written by the importer; kept for the record)."""

    where: str
    text: str


class Qualification(_Model):
    """A whole qualification specification; validated for internal consistency on load."""

    id: str = Field(pattern=r"^[a-z0-9-]+$")
    version: str
    awarding_body: str
    number: str = Field(pattern=r"^\d{3}/\d{4}/[\dX]$")
    title: str
    level: int
    credit: int
    glh: int
    tqt: int
    source: str = ""
    pathways: list[Pathway] = Field(default_factory=list)
    # Criterion kind (K / S / B) -> the assessment methods the specification lists as typical;
    # empty when the specification lists none (then no method is reported as atypical).
    typical_methods: dict[Kind, list[str]] = Field(default_factory=dict)
    readings: list[Reading] = Field(default_factory=list)
    questions: list[Question] = Field(default_factory=list)
    units: list[Unit] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Qualification:
        problems: list[str] = []
        credit = sum(u.credit for u in self.units)
        glh = sum(u.glh for u in self.units)
        if credit != self.credit:
            problems.append(f"unit credits add up to {credit}, but the credit value is {self.credit}")
        if glh != self.glh:
            problems.append(f"unit GLH add up to {glh}, but the qualification GLH is {self.glh}")
        seen: set[str] = set()
        for kind, values in (("unit number", [str(u.number) for u in self.units]),
                             ("unit reference", [u.ref for u in self.units])):
            dup = sorted({v for v in values if values.count(v) > 1})
            if dup:
                problems.append(f"duplicate {kind}: {', '.join(dup)}")
        pathway_ids = {p.id for p in self.pathways}
        reading_ids = {r.id for r in self.readings}
        for unit in self.units:
            for c in unit.criteria:
                if c.ref in seen:
                    problems.append(f"duplicate criterion reference {c.ref} (unit {unit.number})")
                seen.add(c.ref)
                for p in c.variants:
                    if p not in pathway_ids:
                        problems.append(f"criterion {c.ref}: variant for unknown pathway {p!r}")
            refs = {c.ref for c in unit.criteria}
            for g in unit.pathway_groups:
                for p, opt in g.options.items():
                    if p not in pathway_ids:
                        problems.append(f"unit {unit.number} pathway group {g.id}: unknown pathway {p!r}")
                    for ref in opt:
                        if ref not in refs:
                            problems.append(
                                f"unit {unit.number} pathway group {g.id}: unknown criterion {ref}")
                for r in g.readings:
                    if r not in reading_ids:
                        problems.append(f"unit {unit.number} pathway group {g.id}: unknown reading {r!r}")
        if self.readings and sum(r.default for r in self.readings) != 1:
            problems.append("exactly one reading must be the default")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # -- queries used by the writer, reader and checks -----------------------------------------

    @property
    def default_reading(self) -> str:
        """The id of the default reading ('' when the specification has no ambiguity)."""
        for r in self.readings:
            if r.default:
                return r.id
        return ""

    def pick_reading(self, *candidates: str | None) -> str:
        """The first candidate reading this qualification knows, else the default ('' without
        readings). Callers list their preferences: a command-line choice or the centre's, then the
        reading recorded in the workbook."""
        known = {r.id for r in self.readings}
        for c in candidates:
            if c and c in known:
                return c
        return self.default_reading

    def unit(self, number: int) -> Unit | None:
        """The unit with this number, or None."""
        for u in self.units:
            if u.number == number:
                return u
        return None

    def unit_by_ref(self, ref: str) -> Unit | None:
        """The unit with this Ofqual unit reference, or None."""
        for u in self.units:
            if u.ref == ref:
                return u
        return None

    def pathway_by_label(self, text: str) -> Pathway | None:
        """The pathway whose id or label matches ``text`` in any letter case, ignoring spaces."""
        key = re.sub(r"[\s_-]+", "", text).casefold()
        for p in self.pathways:
            if key in (re.sub(r"[\s_-]+", "", p.id).casefold(), re.sub(r"[\s_-]+", "", p.label).casefold()):
                return p
        return None

    def active_groups(self, unit: Unit, reading: str | None = None) -> list[PathwayGroup]:
        """The pathway groups of ``unit`` in force under ``reading`` (default reading if None)."""
        r = self.default_reading if reading is None else reading
        return [g for g in unit.pathway_groups if g.applies(r)]

    def required(self, unit: Unit, pathway: str | None, reading: str | None = None) -> list[str]:
        """Criterion references required of a learner on ``pathway`` (None: pathway unknown).

        With the pathway unknown, criteria inside active groups are not counted as required
        (the pathway check reports the missing pathway instead).
        """
        optional: set[str] = set()
        chosen: set[str] = set()
        for g in self.active_groups(unit, reading):
            optional |= g.criteria
            if pathway is not None:
                chosen |= set(g.options.get(pathway, []))
        return [c.ref for c in unit.criteria if c.ref not in optional or c.ref in chosen]

    def criterion_count(self) -> int:
        """Total number of criteria across all units."""
        return sum(len(u.criteria) for u in self.units)
