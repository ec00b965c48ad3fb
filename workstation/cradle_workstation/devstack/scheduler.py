"""The scheduled jobs of the function table, on timers (EventBridge Scheduler in the cloud).

Each `schedule` event runs every `local_every_s` seconds (the first run one interval after the
stack starts). A run that fails is logged; the next one comes at its time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    every_s: float
    run: Callable[[], object]


class Scheduler:
    def __init__(self, jobs: list[Job]) -> None:
        self.jobs = jobs
        self.runs: dict[str, int] = {job.name: 0 for job in jobs}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cradle-scheduler", daemon=True)

    def start(self) -> Scheduler:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def _loop(self) -> None:
        started = time.monotonic()
        due = {job.name: started + job.every_s for job in self.jobs}
        while self.jobs:
            wait = max(0.0, min(due.values()) - time.monotonic())
            if self._stop.wait(wait):
                return
            now = time.monotonic()
            for job in self.jobs:
                if due[job.name] <= now:
                    self._run(job)
                    due[job.name] = time.monotonic() + job.every_s

    def _run(self, job: Job) -> None:
        try:
            job.run()
        except Exception:
            log.exception("scheduled job %s failed", job.name)
        finally:
            self.runs[job.name] += 1
