"""Structured logs: one JSON object per line on stdout, as CloudWatch Logs and `jq` like them."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import TextIO

SERVICE = "cradle-inference"


class JsonLog:
    def __init__(self, stream: TextIO | None = None, **context: object) -> None:
        self._stream = stream or sys.stdout
        self._context = context

    def bind(self, **context: object) -> JsonLog:
        """A log that adds `context` to every line (e.g. the batch and chunk being processed)."""
        return JsonLog(self._stream, **{**self._context, **context})

    def info(self, event: str, **fields: object) -> None:
        self._write("INFO", event, fields)

    def warning(self, event: str, **fields: object) -> None:
        self._write("WARNING", event, fields)

    def error(self, event: str, **fields: object) -> None:
        self._write("ERROR", event, fields)

    def _write(self, level: str, event: str, fields: dict[str, object]) -> None:
        line = {
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "level": level,
            "service": SERVICE,
            "event": event,
            **self._context,
            **fields,
        }
        self._stream.write(json.dumps(line, default=str) + "\n")
        self._stream.flush()
