"""Delivering the events queued for a function (S3 uploads, through EventBridge and SQS).

In the cloud EventBridge invokes the upload trigger asynchronously and retries it; locally the
rule's target is an SQS queue, and this poller does the invoking: each message's event goes to
the function in-process; a message is deleted once the function returned, and one that failed
comes back after the queue's visibility timeout, until the queue's redrive policy moves it to
the dead-letter queue.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Deliver = Callable[[dict[str, Any]], Any]
WAIT_S = 1  # long polling: an upload reaches the trigger within about this long


class QueuePoller:
    def __init__(self, sqs: Any, queue_url: str, deliver: Deliver, *, name: str = "events") -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.deliver = deliver
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"cradle-queue-{name}", daemon=True)
        self.delivered = 0
        self.failed = 0

    def start(self) -> QueuePoller:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                messages = self.sqs.receive_message(
                    QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=WAIT_S
                ).get("Messages", [])
            except Exception:  # the server is going away, or busy: try again shortly
                if not self._stop.wait(WAIT_S):
                    log.warning("could not poll %s", self.queue_url, exc_info=True)
                continue
            for message in messages:
                if self._stop.is_set():
                    return  # not deleted: it is delivered again after a restart
                self._handle(message)

    def _handle(self, message: dict[str, Any]) -> None:
        try:
            self.deliver(json.loads(message["Body"]))
        except Exception:
            self.failed += 1
            log.exception("delivery from %s failed; it will be retried", self.queue_url)
            return
        self.delivered += 1
        self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
