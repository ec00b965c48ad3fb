"""The local job runner: a training or inference job in a thread of this process, on the CPU.

It runs exactly what the ECS task runs (`cradle_inference.jobs.run_spec` on the spec's URI), so
the job reads its spec, writes its reports and its results through S3 (moto locally) as it would
in the cloud, and the jobs worker follows it the same way. Starting the same job twice starts it
once. `wait` lets tests (and the CLI) block until the jobs started so far are done.
"""

from __future__ import annotations

import logging
import threading

from cradlepose.adapters.aws_call_log import TASK_PRINCIPAL, acting_as
from cradlepose.adapters.job_runner import JobLaunch

log = logging.getLogger(__name__)


class LocalJobRunner:
    name = "local"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}
        self.exit_codes: dict[str, int] = {}

    def start(self, launch: JobLaunch) -> str:
        with self._lock:
            thread = self._threads.get(launch.name)
            if thread is None:
                thread = threading.Thread(
                    target=self._run, args=(launch,), name=f"cradle-job-{launch.name}", daemon=True
                )
                self._threads[launch.name] = thread
                thread.start()
        return thread.name

    def wait(self, timeout: float | None = None) -> None:
        with self._lock:
            threads = list(self._threads.values())
        for thread in threads:
            thread.join(timeout)
            if thread.is_alive():
                raise TimeoutError(f"{thread.name} is still running after {timeout} s")

    def _run(self, launch: JobLaunch) -> None:
        try:
            from cradle_inference.jobs import run_spec  # noqa: PLC0415 - torch only where jobs run

            with acting_as(TASK_PRINCIPAL):
                self.exit_codes[launch.name] = run_spec(launch.spec_uri)
        except Exception:  # the job reports its own failures; this is for what broke before it could
            log.exception("local job %s crashed", launch.name)
            self.exit_codes[launch.name] = 1
