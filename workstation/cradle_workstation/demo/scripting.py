"""What the demo's scripted runs share (`cradle demo`'s story, `cradle loop-demo`'s experiment):
a stage timed and told, waiting for the system, and the failure both report."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Say = Callable[[str], None]


class DemoFailed(RuntimeError):
    """The system did not do what the script expects; the message says what and where."""


@contextmanager
def stage(seconds: dict[str, float], name: str, say: Say) -> Iterator[None]:
    """Tell the stage as it starts and ends; its seconds go into `seconds` under its name."""
    say(f"[bold]{name}[/] …")
    started = time.perf_counter()
    yield
    seconds[name] = time.perf_counter() - started
    say(f"[green]✓[/] {name} ({seconds[name]:.1f} s)")


def wait(what: str, probe: Callable[[], Any], timeout_s: float, every_s: float = 0.5) -> Any:
    """The probe's first truthy answer; DemoFailed, naming `what`, when none came in time."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(every_s)
    raise DemoFailed(f"timed out after {timeout_s:.0f} s waiting for {what}")
