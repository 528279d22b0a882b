"""The catalogue of installed qualifications: bundled data files plus ones a centre has added.

Where qualifications come from, in order (a later one with the same number replaces an earlier):

1. the files bundled in ``tracker/spec/data/*.yaml``;
2. the user folder: ``$TRACKER_SPEC_DIR`` if set, else ``~/.config/tracker/specs`` (``tracker
   spec add FILE.yaml`` copies a validated file there);
3. folders passed explicitly with ``extra_dirs`` (a centre folder's ``specs/``).

Each file is validated on load (:func:`tracker.spec.schema.parse_qualification`); a broken file
raises :class:`tracker.errors.SpecError` naming the file and the problem. A file already validated
once, byte for byte, is rebuilt from the cache of validated data (:mod:`tracker.spec.cache`)
instead, which keeps YAML and pydantic out of a command's start-up.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from tracker.errors import SpecError, UnknownQualification
from tracker.spec import cache
from tracker.spec.models import Qualification

BUNDLED_DIR = Path(__file__).with_name("data")


def user_spec_dir() -> Path:
    """The folder where ``tracker spec add`` installs qualifications."""
    env = os.environ.get("TRACKER_SPEC_DIR")
    if env:
        return Path(env)
    return Path.home() / ".config" / "tracker" / "specs"


@lru_cache(maxsize=64)
def _load_cached(path: str, mtime_ns: int) -> tuple[Qualification, str]:
    raw = Path(path).read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    q = cache.load(digest)
    if q is None:
        q = parse_file(path, raw)
        cache.store(digest, q)
    return q, digest[:16]


def parse_file(path: str | Path, raw: bytes) -> Qualification:
    """The bytes ``raw`` of data file ``path`` parsed and validated in full (no cache)."""
    import yaml

    from tracker.spec.schema import InvalidData, parse_qualification

    # The C loader is ~10x faster than the pure-Python one; fall back when libyaml is missing.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(raw, Loader=loader)
    except yaml.YAMLError as e:
        raise SpecError(path, f"not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise SpecError(path, "expected a mapping of qualification fields at the top level")
    try:
        return parse_qualification(data)
    except InvalidData as e:
        raise SpecError(path, str(e)) from None


def load_file(path: str | Path) -> Qualification:
    """Load and validate one qualification data file."""
    p = Path(path)
    if not p.is_file():
        raise SpecError(p, "no such file")
    return _load_cached(str(p.resolve()), p.stat().st_mtime_ns)[0]


def spec_hash(path: str | Path) -> str:
    """A short content hash of a data file (recorded in each workbook's hidden metadata)."""
    p = Path(path)
    return _load_cached(str(p.resolve()), p.stat().st_mtime_ns)[1]


def _search_dirs(extra_dirs: Iterable[str | Path] = ()) -> list[Path]:
    dirs = [BUNDLED_DIR, user_spec_dir(), *(Path(d) for d in extra_dirs)]
    return [d for d in dirs if d.is_dir()]


def spec_files(extra_dirs: Iterable[str | Path] = ()) -> dict[str, Path]:
    """Qualification number -> data file, later folders overriding earlier ones.

    A broken file in the user's or a centre's folder is skipped (see :func:`broken_spec_files`)
    so that one bad hand-edited file does not make every qualification unusable; a broken
    bundled file is a packaging bug and raises.
    """
    dirs = _search_dirs(extra_dirs)
    # Cached while no folder changes (a file added, removed or renamed changes its folder's
    # mtime; an edited file is re-validated by load_file's own mtime cache): the reader asks
    # once per workbook, a roll-up a thousand times.
    return dict(_spec_files(tuple((str(d), _mtime(d)) for d in dirs)))


def _mtime(d: Path) -> int:
    try:
        return d.stat().st_mtime_ns
    except OSError:
        return 0


@lru_cache(maxsize=32)
def _spec_files(dirs: tuple[tuple[str, int], ...]) -> tuple[tuple[str, Path], ...]:
    found: dict[str, Path] = {}
    for d in (Path(name) for name, _ in dirs):
        for f in sorted(d.glob("*.yaml")):
            try:
                found[load_file(f).number] = f
            except SpecError:
                if d == BUNDLED_DIR:
                    raise
    return tuple(found.items())


def broken_spec_files(extra_dirs: Iterable[str | Path] = ()) -> list[SpecError]:
    """The problems of data files that :func:`spec_files` skipped."""
    problems = []
    for d in _search_dirs(extra_dirs):
        if d == BUNDLED_DIR:
            continue
        for f in sorted(d.glob("*.yaml")):
            try:
                load_file(f)
            except SpecError as e:
                problems.append(e)
    return problems


def list_qualifications(extra_dirs: Iterable[str | Path] = ()) -> list[Qualification]:
    """Every installed qualification, ordered by qualification number."""
    return [load_file(f) for _, f in sorted(spec_files(extra_dirs).items())]


def find_spec_file(key: str, extra_dirs: Iterable[str | Path] = ()) -> Path:
    """The data file of the qualification with number (603/4687/5, 60346875) or id ``key``."""
    wanted = key.strip().replace("/", "")
    files = spec_files(extra_dirs)
    for number, f in files.items():
        if number.replace("/", "") == wanted or load_file(f).id == key.strip():
            return f
    known = ", ".join(sorted(files)) or "none"
    raise UnknownQualification(f"no qualification {key!r} is installed (installed: {known})")


def load_qualification(key: str, extra_dirs: Iterable[str | Path] = ()) -> Qualification:
    """The qualification with number or id ``key``; raises UnknownQualification if absent."""
    return load_file(find_spec_file(key, extra_dirs))
