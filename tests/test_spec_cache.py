"""The cache of validated qualification files (tracker.spec.cache): same result as a full load,
never trusted when damaged, foreign or stale, and what keeps pydantic out of a command's start-up."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tracker.spec import cache
from tracker.spec.catalogue import BUNDLED_DIR, load_file, parse_file
from tracker.spec.models import Criterion, Kind, Qualification, from_data, to_data

L2_FILE = BUNDLED_DIR / "highfield-l2-diploma-customer-service-skills.yaml"
L3_FILE = BUNDLED_DIR / "highfield-l3-diploma-customer-service-skills.yaml"


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("TRACKER_CACHE_DIR", str(d))
    return d


def _digest(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _entries(d: Path) -> list[Path]:
    return sorted((d / "specs").glob("*.json")) if (d / "specs").is_dir() else []


def _copy(src: Path, dst: Path) -> Path:
    dst.write_bytes(src.read_bytes())
    return dst


@pytest.mark.parametrize("path", [L2_FILE, L3_FILE], ids=["L2", "L3"])
def test_cached_load_equals_full_validation_field_by_field(cache_dir: Path, path: Path) -> None:
    full = parse_file(path, path.read_bytes())
    cache.store(_digest(path), full)
    cached = cache.load(_digest(path))
    assert cached is not None and cached is not full
    assert to_data(cached) == to_data(full)
    for f in dataclasses.fields(Qualification):
        assert getattr(cached, f.name) == getattr(full, f.name), f.name
    for cu, fu in zip(cached.units, full.units, strict=True):
        assert cu == fu
        for cc, fc in zip(cu.criteria, fu.criteria, strict=True):
            assert (cc.ref, cc.text, cc.kind, cc.variants) == (fc.ref, fc.text, fc.kind, fc.variants)
            assert type(cc) is Criterion and type(cc.kind) is Kind
    # typed as the model says, not as JSON gives them back
    assert set(cached.typical_methods) <= set(Kind) and all(type(k) is Kind for k in cached.typical_methods)


def test_known_facts_survive_the_cache(cache_dir: Path) -> None:
    full = parse_file(L2_FILE, L2_FILE.read_bytes())
    cache.store(_digest(L2_FILE), full)
    q = cache.load(_digest(L2_FILE))
    assert q is not None
    # from the specification, not from the code under test
    assert (q.number, q.credit, q.glh, len(q.units)) == ("603/4687/5", 39, 280, 18)
    unit17 = q.unit(17)
    assert unit17 is not None
    b171 = unit17.criterion("B17.1")
    assert b171 is not None and b171.kind is Kind.BEHAVIOUR and set(b171.variants) == {"face-to-face", "non-facing"}
    assert q.default_reading == full.default_reading != ""


def test_load_file_writes_an_entry_and_a_second_process_uses_it_without_pydantic(cache_dir: Path,
                                                                                  tmp_path: Path) -> None:
    copy = _copy(L3_FILE, tmp_path / "l3.yaml")
    load_file(copy)
    assert len(_entries(cache_dir)) == 1
    code = ("import sys; from tracker.spec.catalogue import load_file; q = load_file(sys.argv[1]); "
            "print(q.number, 'pydantic' in sys.modules, 'yaml' in sys.modules)")
    env = {**os.environ, "TRACKER_CACHE_DIR": str(cache_dir)}
    out = subprocess.run([sys.executable, "-c", code, str(copy)], capture_output=True, text=True, env=env,
                         check=True).stdout.split()
    assert out == ["603/4688/7", "False", "False"]


def test_changed_data_file_is_validated_again(cache_dir: Path, tmp_path: Path) -> None:
    copy = _copy(L2_FILE, tmp_path / "l2.yaml")
    first = load_file(copy)
    text = copy.read_text(encoding="utf-8")
    assert first.version == "1" and 'version: "1"\n' in text
    copy.write_text(text.replace('version: "1"\n', 'version: "edited"\n', 1), encoding="utf-8")
    os.utime(copy, ns=(copy.stat().st_atime_ns, copy.stat().st_mtime_ns + 10**9))  # a new mtime for sure
    second = load_file(copy)
    assert second.version == "edited"
    assert len(_entries(cache_dir)) == 2  # one per content; the old one is simply never asked for


def test_changed_data_file_that_breaks_the_rules_is_rejected_not_served_from_cache(cache_dir: Path,
                                                                                    tmp_path: Path) -> None:
    from tracker.errors import SpecError

    copy = _copy(L2_FILE, tmp_path / "l2.yaml")
    load_file(copy)
    copy.write_text(copy.read_text(encoding="utf-8").replace("credit: 39", "credit: 40", 1), encoding="utf-8")
    os.utime(copy, ns=(copy.stat().st_atime_ns, copy.stat().st_mtime_ns + 10**9))
    with pytest.raises(SpecError, match="unit credits add up to 39, but the credit value is 40"):
        load_file(copy)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "payload-edited", "wrong-shape", "empty",
                                    "other-file"])
def test_damaged_entry_is_ignored(cache_dir: Path, damage: str) -> None:
    import hashlib

    digest = _digest(L2_FILE)
    full = parse_file(L2_FILE, L2_FILE.read_bytes())
    cache.store(digest, full)
    (entry,) = _entries(cache_dir)
    raw = entry.read_bytes()
    header, _, payload = raw.partition(b"\n")
    if damage == "garbage":
        entry.write_bytes(b"\x00\xff not json at all")
    elif damage == "truncated":
        entry.write_bytes(raw[: len(raw) // 2])
    elif damage == "payload-edited":  # hash no longer matches
        entry.write_bytes(header + b"\n" + payload.replace(b'"credit":39', b'"credit":40'))
    elif damage == "wrong-shape":  # consistent hash, but not a qualification's data
        data = json.loads(payload)
        del data["units"][0]["criteria"]
        new = json.dumps(data).encode()
        meta = json.loads(header)
        meta["sha256"] = hashlib.sha256(new).hexdigest()
        entry.write_bytes(json.dumps(meta).encode() + b"\n" + new)
    elif damage == "empty":
        entry.write_bytes(b"")
    elif damage == "other-file":  # an entry made from other bytes, under this file's name
        meta = json.loads(header)
        meta["file"] = "0" * 64
        entry.write_bytes(json.dumps(meta).encode() + b"\n" + payload)
    assert cache.load(digest) is None
    # and loading the data file still works, and repairs the entry
    q = parse_file(L2_FILE, L2_FILE.read_bytes())
    cache.store(digest, q)
    again = cache.load(digest)
    assert again is not None and to_data(again) == to_data(full)


def test_entry_that_breaks_the_arithmetic_is_not_built(cache_dir: Path) -> None:
    """from_data re-runs the consistency checks: totals that disagree never become a qualification."""
    data = to_data(parse_file(L2_FILE, L2_FILE.read_bytes()))
    data["credit"] = 40
    with pytest.raises(ValueError, match="unit credits add up to 39"):
        from_data(Qualification, data)


def test_entry_with_wrong_types_is_not_built() -> None:
    data = to_data(parse_file(L2_FILE, L2_FILE.read_bytes()))
    data["units"][0]["glh"] = "10"
    with pytest.raises(TypeError):
        from_data(Qualification, data)


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="changing a file's owner needs root")
def test_entry_owned_by_another_account_is_ignored(cache_dir: Path) -> None:
    digest = _digest(L2_FILE)
    cache.store(digest, parse_file(L2_FILE, L2_FILE.read_bytes()))
    (entry,) = _entries(cache_dir)
    assert cache.load(digest) is not None
    os.chown(entry, 4242, -1)
    assert cache.load(digest) is None


def test_cache_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_CACHE_DIR", "")
    assert cache.cache_dir() is None
    q = load_file(_copy(L2_FILE, tmp_path / "l2.yaml"))
    assert q.number == "603/4687/5"
    assert not any(tmp_path.rglob("*.json"))


def test_unwritable_cache_folder_is_no_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("TRACKER_CACHE_DIR", str(blocker / "cache"))
    q = load_file(_copy(L3_FILE, tmp_path / "l3.yaml"))
    assert q.number == "603/4688/7"


def test_default_location_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TRACKER_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "tracker"
