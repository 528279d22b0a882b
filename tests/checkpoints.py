"""Waiting for a roll-up (another process) to reach one of its checkpoints, without polling a file
or sleeping: the roll-up writes the checkpoint's name into ``$TRACKER_ROLLUP_PAUSE_FILE``, which
here is a named pipe the test blocks on, and then stays paused until it is killed.

A test that waited a fixed time, or for a pause of 60 s to be long enough, passed or failed with
the machine's load; this one only waits for the event (bounded, so a roll-up that never gets
there fails the test instead of hanging it).
"""

from __future__ import annotations

import os
import select
import subprocess
from pathlib import Path

from tracker.centre.rollup_steps import PAUSE_ENV, PAUSE_FILE_ENV, PAUSE_SECONDS_ENV

#: the longest a test waits for a roll-up to reach its checkpoint
WAIT_LIMIT = 300.0


class Checkpoint:
    """A named pipe in the test's own temporary folder; use as a context manager."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "checkpoint.fifo"
        os.mkfifo(self.path)
        # Our own writer end keeps the pipe from reading as end-of-file before the roll-up opens it.
        self._r = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        self._w = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)

    def env(self, point: str) -> dict[str, str]:
        """The environment that makes a roll-up pause at ``point`` (until it is killed)."""
        return {**os.environ, PAUSE_ENV: point, PAUSE_FILE_ENV: str(self.path), PAUSE_SECONDS_ENV: "3600"}

    def wait(self, proc: subprocess.Popen[bytes] | subprocess.Popen[str]) -> str:
        """Block until the roll-up reports its checkpoint; returns the checkpoint's name."""
        waited = 0.0
        while waited < WAIT_LIMIT:
            # One-second slices only to notice a roll-up that ended without reaching the point.
            ready, _, _ = select.select([self._r], [], [], 1.0)
            if ready:
                data = os.read(self._r, 256)
                if data:
                    return data.decode("utf-8")
            elif proc.poll() is not None:
                out, err = proc.communicate()
                raise AssertionError(f"the roll-up ended ({proc.returncode}) before its checkpoint: {err!r}")
            waited += 1.0
        raise AssertionError("the roll-up never reached its checkpoint")

    def close(self) -> None:
        os.close(self._r)
        os.close(self._w)

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
