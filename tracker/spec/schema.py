"""Validating a qualification data file: pydantic, on the types of :mod:`tracker.spec.models`.

The file format is defined once, by those frozen dataclasses (their field types and
:class:`~tracker.spec.models.Constraint` annotations, and ``__post_init__`` for the arithmetic and
references); pydantic reads them and builds the validator here, on first use only. Importing
pydantic and building the schema costs about 100 ms, so the command line imports this module only
when a data file has no valid entry in the cache (:mod:`tracker.spec.cache`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from tracker.spec.models import Qualification

if TYPE_CHECKING:
    from pydantic import TypeAdapter, ValidationError


class InvalidData(ValueError):
    """The data does not describe a valid qualification.

    ``problems``: (where, what) for each, where being the dotted path of the field (e.g.
    ``units.0.criteria.3.ref``, '' for the whole qualification); the message joins them.
    """

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{loc}: {msg}" if loc else msg for loc, msg in problems))


@lru_cache(maxsize=1)
def _adapter() -> TypeAdapter[Qualification]:
    from pydantic import TypeAdapter

    return TypeAdapter(Qualification)


def parse_qualification(data: Any) -> Qualification:
    """``data`` (a data file's top-level mapping) validated into a :class:`Qualification`.

    Raises :class:`InvalidData` listing every problem found.
    """
    from pydantic import ValidationError

    try:
        return _adapter().validate_python(data)
    except ValidationError as e:
        raise InvalidData(_problems(e)) from None


def _problems(err: ValidationError) -> list[tuple[str, str]]:
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        # pydantic words an unknown key of a dataclass as a keyword argument; a data file has keys
        msg = str(e["msg"]).removeprefix("Value error, ").replace(
            "Unexpected keyword argument", "unknown field (not part of a qualification file)")
        parts.append((loc, msg))
    return parts
