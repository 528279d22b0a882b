"""Every command of the `tracker` CLI is documented in the README (sqlite-utils' rule)."""

from __future__ import annotations

import argparse
from pathlib import Path

from tracker.cli import build_parser

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _commands(parser: argparse.ArgumentParser, prefix: str = "tracker") -> list[str]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out.append(f"{prefix} {name}")
                out += _commands(sub, f"{prefix} {name}")
    return out


def test_every_command_is_in_the_readme() -> None:
    commands = _commands(build_parser())
    assert len(commands) >= 15  # the walk really found the sub-commands
    missing = [c for c in commands if f"`{c}" not in README and f"{c} " not in README]
    assert not missing, f"undocumented commands: {missing}"


def test_every_command_has_help() -> None:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                assert choice.help, f"tracker {choice.dest} has no help text"
