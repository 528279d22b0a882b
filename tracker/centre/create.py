"""Creating a centre folder: ``centre.yaml``, the folders, a blank register, the ledger and an
empty master.

It sits above :mod:`tracker.centre.folder` (which only opens a folder) because building the
first master needs the master writer and the publishing step, which themselves need an opened
centre.
"""

from __future__ import annotations

from pathlib import Path

from tracker.centre import ledger as LG
from tracker.centre.folder import CONFIG_NAME, DEFAULT_PATHS, Centre, RollupLock, config_text, load_config, open_centre
from tracker.centre.journal import received_hashes
from tracker.centre.publish import publish_master
from tracker.errors import CentreError
from tracker.files import write_bytes_atomically
from tracker.register import new_register

_FOLDERS = ("inbox", "archive", "quarantine", "specs")


def default_readings(extra_dirs: list[Path]) -> tuple[dict[str, str], dict[str, str]]:
    """The default reading of every installed qualification that has readings, and a comment for
    ``centre.yaml`` listing its options (qualification id -> text, for both)."""
    from tracker.spec.catalogue import list_qualifications

    readings: dict[str, str] = {}
    notes: dict[str, str] = {}
    for q in list_qualifications(extra_dirs):
        if q.readings:
            readings[q.id] = q.default_reading
            options = " | ".join(r.id + (" (default)" if r.default else "") for r in q.readings)
            notes[q.id] = f"{q.title} ({q.number}): {options}"
    return readings, notes


def init_centre(root: str | Path, *, name: str = "", number: str = "", demo: bool = False,
                reading: str | None = None, clarification: str = "") -> tuple[Centre, list[str]]:
    """Create a centre folder at ``root``, or complete one: nothing that exists is overwritten.

    ``reading``: the reading the centre uses (e.g. ``unit-guidance`` for L2 Unit 17), recorded in
    centre.yaml for every qualification that has it (the default reading otherwise);
    ``clarification``: the awarding body's clarification, if the centre has one, recorded beside it.

    Returns the opened centre and the list of things created (for the CLI to print).
    """
    r = Path(root).absolute()
    created: list[str] = []
    if r.exists() and not r.is_dir():
        raise CentreError(f"{r} exists and is not a folder")
    r.mkdir(parents=True, exist_ok=True)
    cfg = r / CONFIG_NAME
    if cfg.is_file():
        existing = load_config(r)
        for key, given in (("name", name), ("number", number)):
            if given and str(existing.get(key) or "") != given:
                raise CentreError(f"{r} is already a centre folder with {key} "
                                  f"{existing.get(key)!r}; edit {cfg} to change it")
    else:
        specs = r / DEFAULT_PATHS["specs"]
        readings, notes = default_readings([specs])
        if reading is not None:
            from tracker.spec.catalogue import list_qualifications

            having = [q for q in list_qualifications([specs]) if reading in {r.id for r in q.readings}]
            if not having:
                known = sorted({r.id for q in list_qualifications([specs]) for r in q.readings})
                raise CentreError(f"no installed qualification has a reading {reading!r} "
                                  f"(readings: {', '.join(known) or 'none'})")
            for q in having:
                readings[q.id] = reading
                if clarification.strip():
                    notes[q.id] = (notes.get(q.id, "") + " -- awarding body's clarification: "
                                   + " ".join(clarification.split()))
        write_bytes_atomically(cfg, config_text(name, number, readings, notes, demo=demo).encode("utf-8"),
                               fsync=True)
        created.append(CONFIG_NAME)
    centre = open_centre(r)
    for key in _FOLDERS:
        p = centre.path(key)
        if not p.is_dir():
            p.mkdir(parents=True, exist_ok=True)
            created.append(f"{_rel(p, r)}/")
    if not centre.register.exists():
        new_register(centre.register)
        created.append(_rel(centre.register, r))
    if not centre.ledger.exists():
        if received_hashes(centre) or any(p.is_file() for p in centre.archive.glob("*/*")):
            # Files were received: a new, empty ledger would silently replace the lost one.
            raise CentreError(f"the ledger {centre.ledger} is missing; nothing was changed. Run "
                              f"`tracker rebuild {centre.root}` to rebuild it from the archive")
        LG.connect(centre.ledger).close()
        created.append(_rel(centre.ledger, r))
    if not centre.master.exists():
        with RollupLock(centre):
            publish_master(centre)
        created.append(_rel(centre.master, r))
    return centre, created


def _rel(p: Path, root: Path) -> str:
    try:
        return p.relative_to(root).as_posix()
    except ValueError:
        return str(p)


__all__ = ["default_readings", "init_centre"]
