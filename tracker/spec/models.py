"""Qualification specifications as data: the types of the YAML files in ``spec/data``.

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

The types are frozen dataclasses, and this module does not import pydantic: a one-file
``tracker validate`` loads its qualifications from a cache of already validated data
(:mod:`tracker.spec.cache`) and must not pay the ~100 ms pydantic costs to import and build its
schema. The file format is still defined once, here: the field types and their
:class:`Constraint` annotations (pattern, minimum, minimum length, whitespace normalisation) are
what :mod:`tracker.spec.schema` hands to pydantic to validate a data file, and ``__post_init__``
checks the arithmetic and references (so a file whose totals disagree with the key facts, or that
names an unknown criterion, is rejected -- by pydantic on load and by any other construction).
"""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Annotated, Any, Callable, Final, TypeVar

_WS = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """Collapse every run of whitespace (line breaks from the PDF included) to one space."""
    return _WS.sub(" ", text).strip()


@dataclass(frozen=True, slots=True)
class Constraint:
    """A rule on one field of the file format, applied when a data file is validated.

    Used as ``Annotated[str, Constraint(pattern=...)]``; pydantic finds the hook below while
    building the schema (in :mod:`tracker.spec.schema`), so this module never imports pydantic.
    """

    pattern: str | None = None  # the whole text must match (a string)
    ge: int | None = None  # at least this (an integer)
    min_length: int | None = None  # at least this many items (a list)
    normalise: bool = False  # whitespace collapsed by normalise_text (a string)

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        """pydantic's hook: the schema of ``source`` with this rule added."""
        from pydantic_core import core_schema

        schema = handler(source)
        for key in ("pattern", "ge", "min_length"):
            value = getattr(self, key)
            if value is not None:
                schema[key] = value
        if self.normalise:
            schema = core_schema.no_info_after_validator_function(normalise_text, schema)
        return schema


#: whitespace-normalised text (line breaks from the PDF collapsed)
Text = Annotated[str, Constraint(normalise=True)]
#: how pydantic treats an unknown key in a data file: an error (a misspelt field is not ignored)
_FORBID_EXTRA: Final = {"extra": "forbid"}


class Kind(str, Enum):
    """Criterion kind, given by the reference's prefix letter."""

    KNOWLEDGE = "K"
    SKILL = "S"
    BEHAVIOUR = "B"

    @property
    def label(self) -> str:
        """The word shown in the workbook's Type column."""
        return {"K": "Knowledge", "S": "Skill", "B": "Behaviour"}[self.value]


_T = TypeVar("_T")
_Id = Annotated[str, Constraint(pattern=r"^[a-z0-9-]+$")]


def _model(cls: type[_T]) -> type[_T]:
    """Mark ``cls`` as a type of the file format: pydantic refuses keys it does not declare."""
    cls.__pydantic_config__ = _FORBID_EXTRA  # type: ignore[attr-defined]
    return cls


@_model
@dataclass(frozen=True, slots=True, kw_only=True)
class Criterion:
    """One assessment criterion, with its reference exactly as printed (K1.1, S2.10, B17.2)."""

    ref: Annotated[str, Constraint(pattern=r"^[KSB]\d+\.\d+$")]
    text: Text
    kind: Kind
    # Pathway-specific wordings printed inside one criterion (L2 B17.1), keyed by pathway id.
    variants: dict[str, Text] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ref[0] != self.kind.value:
            raise ValueError(f"criterion {self.ref}: kind {self.kind.value} does not match its prefix")


@_model
@dataclass(frozen=True, slots=True, kw_only=True)
class LearningOutcome:
    """A learning outcome block (K1, S9, B17 ...) with its text, whitespace-normalised."""

    ref: Annotated[str, Constraint(pattern=r"^[KSB]\d+$")]
    text: Text


@_model
@dataclass(frozen=True, slots=True, kw_only=True)
class PathwayGroup:
    """An either/or choice inside a unit: per pathway id, the criteria a learner on it takes.

    ``readings`` lists the readings under which the group applies; empty means all readings.
    """

    id: str
    options: dict[str, list[str]]
    readings: list[str] = field(default_factory=list)
    note: str = ""

    def applies(self, reading: str) -> bool:
        """True when this group is in force under ``reading``."""
        return not self.readings or reading in self.readings

    @property
    def criteria(self) -> set[str]:
        """Every criterion reference named by any option."""
        return {ref for refs in self.options.values() for ref in refs}


@_model
@dataclass(frozen=True, slots=True, kw_only=True)
class Unit:
    """One unit of the qualification (one sheet of the learner workbook)."""

    number: Annotated[int, Constraint(ge=1)]
    ref: Annotated[str, Constraint(pattern=r"^[A-Z]/\d{3}/\d{4}$")]
    title: Text
    level: int
    glh: Annotated[int, Constraint(ge=0)]
    credit: Annotated[int, Constraint(ge=0)]
    learning_outcomes: list[LearningOutcome]
    criteria: Annotated[list[Criterion], Constraint(min_length=1)]
    amplification: Text = ""
    guidance: Text = ""
    pathway_groups: list[PathwayGroup] = field(default_factory=list)

    def criterion(self, ref: str) -> Criterion | None:
        """The criterion with reference ``ref``, or None."""
        for c in self.criteria:
            if c.ref == ref:
                return c
        return None


@_model
@dataclass(frozen=True, slots=True, kw_only=True)
class Pathway:
    """A learner pathway (role), e.g. id ``face-to-face`` with label ``Face-to-face``."""

    id: _Id
    label: str


@_model
@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """One interpretation of an ambiguous part of the specification."""

    id: _Id
    description: str
    default: bool = False


@_model
@dataclass(frozen=True, slots=True, kw_only=True)
class Question:
    """A point a person must decide (written by the importer; kept for the record)."""

    where: str
    text: str


@_model
@dataclass(frozen=True, slots=True, kw_only=True)
class Qualification:
    """A whole qualification specification; checked for internal consistency when built."""

    id: _Id
    version: str
    awarding_body: str
    number: Annotated[str, Constraint(pattern=r"^\d{3}/\d{4}/[\dX]$")]
    title: str
    level: int
    credit: int
    glh: int
    tqt: int
    source: str = ""
    pathways: list[Pathway] = field(default_factory=list)
    # Criterion kind (K / S / B) -> the assessment methods the specification lists as typical;
    # empty when the specification lists none (then no method is reported as atypical).
    typical_methods: dict[Kind, list[str]] = field(default_factory=dict)
    readings: list[Reading] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)
    units: Annotated[list[Unit], Constraint(min_length=1)]

    def __post_init__(self) -> None:
        self._consistent()

    def _consistent(self) -> None:
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


# -- plain data, both ways (the cache of validated files, the importer, scripts) ----------------------


def to_data(obj: Any) -> Any:
    """``obj`` (any of the types above, or lists and dicts of them) as plain JSON-ready data:
    the mapping a data file holds, with kinds as their letters."""
    if isinstance(obj, Enum):
        return obj.value
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_data(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, list):
        return [to_data(v) for v in obj]
    if isinstance(obj, dict):
        return {to_data(k): to_data(v) for k, v in obj.items()}
    return obj


def from_data(cls: type[_T], data: Any) -> _T:
    """Rebuild a value of ``cls`` from :func:`to_data`'s output, without validating the fields.

    Only for data that was validated before it was written (the cache of :mod:`tracker.spec.cache`);
    a data file is validated by :func:`tracker.spec.schema.parse_qualification`. ``__post_init__``
    still runs (the arithmetic and references), and data of the wrong shape raises (TypeError,
    KeyError, ValueError), never builds a half-formed qualification.
    """
    result: _T = _converter(typing.cast(Any, cls))(data)
    return result


@lru_cache(maxsize=None)
def _converter(tp: Any) -> Callable[[Any], Any]:
    """A function turning plain data into a value of type ``tp`` (a type of this module, a list or
    dict of them, an enum, or a scalar)."""
    origin = typing.get_origin(tp)
    if origin is list:
        (item,) = typing.get_args(tp)
        conv = _converter(item)
        return lambda v: [conv(x) for x in _expect(v, list)]
    if origin is dict:
        k_tp, v_tp = typing.get_args(tp)
        kc, vc = _converter(k_tp), _converter(v_tp)
        return lambda v: {kc(k): vc(x) for k, x in _expect(v, dict).items()}
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)  # Annotated[...] stripped to the bare type
        fields = [(f.name, _converter(hints[f.name])) for f in dataclasses.fields(tp)]
        cls = tp

        def build(v: Any) -> Any:
            d = _expect(v, dict)
            if len(d) != len(fields):
                raise ValueError(f"{cls.__name__}: expected {len(fields)} fields, got {len(d)}")
            return cls(**{name: conv(d[name]) for name, conv in fields})
        return build
    if tp in (str, int, bool):
        scalar: type = tp
        return lambda v: _expect(v, scalar)
    raise TypeError(f"no converter for {tp!r}")


def _expect(value: Any, tp: type) -> Any:
    if type(value) is not tp:  # exactly: a bool is not an int here, as in the dump
        raise TypeError(f"expected {tp.__name__}, got {type(value).__name__}")
    return value
