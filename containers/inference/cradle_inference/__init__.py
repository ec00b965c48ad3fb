"""Cradle's batch pose-inference engine: the code the inference container runs (GPU, CPU fallback).

Importing this package makes Ultralytics offline before anything imports it: with `YOLO_OFFLINE`
unset, `import ultralytics` probes DNS to decide whether it is online, and with
`YOLO_AUTOINSTALL` unset it may pip-install missing requirements. The container must never
reach the network at run time, so both default to off here; an explicit setting still wins.
"""

from __future__ import annotations

import os

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "False")
