"""What the local stack's moto adaptations share: methods of moto's classes replaced while a
context manager is open and put back when it closes, one adaptation of each kind per process.

moto keeps its backends in module globals, so two local stacks in one process share them; a
second adaptation of the same kind would wrap the first and undo it out of order, so it is
refused. Each adaptation names the moto version it was written against and warns on another.
"""

from __future__ import annotations

import threading
import warnings
from types import TracebackType
from typing import Any, ClassVar, Self

import moto

_lock = threading.Lock()
_installed: dict[type[MotoPatch], MotoPatch] = {}  # each kind of adaptation -> the one open now


class MotoPatch:
    """Base of a moto adaptation: `_install` replaces methods through `replace`."""

    written_for: ClassVar[str | None] = None  # the moto version checked on entry; None: not checked
    refusal: ClassVar[str] = "moto is already adapted this way in this process"

    def __init__(self) -> None:
        self._replaced: list[tuple[type, str, Any]] = []

    def _install(self) -> None:
        raise NotImplementedError

    def replace(self, owner: type, name: str, value: Any) -> Any:
        """Set `owner.name` to `value` until the adaptation closes; return what it was."""
        original = getattr(owner, name)
        self._replaced.append((owner, name, original))
        setattr(owner, name, value)
        return original

    def _restore(self) -> None:
        while self._replaced:
            owner, name, original = self._replaced.pop()
            setattr(owner, name, original)

    def __enter__(self) -> Self:
        if self.written_for is not None and moto.__version__ != self.written_for:
            warnings.warn(
                f"{type(self).__module__} was written for moto {self.written_for}, not {moto.__version__}",
                stacklevel=2,
            )
        with _lock:
            if type(self) in _installed:
                raise RuntimeError(self.refusal)
            try:
                self._install()
            except BaseException:
                self._restore()  # nothing half-patched stays behind
                raise
            _installed[type(self)] = self
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with _lock:
            if _installed.get(type(self)) is self:
                self._restore()
                del _installed[type(self)]
