"""Reading a COCO document as a stream: only the parts an import reads are ever built.

`json.load` of a large COCO file builds every value of it (segmentation polygons, licences,
captions) before anything is checked, several times the file's size in memory. This reads the
top-level object one value at a time, keeps the arrays an import needs one element at a time,
and keeps only the fields it reads of each element; everything else is parsed and dropped.
Only a single element (or a single dropped value) is ever held as text.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Mapping
from typing import IO, Any

_CHUNK = 1 << 20
_WHITESPACE = " \t\n\r"
_NUMBER_GOES_ON = ".eE"


class _Reader:
    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self._decode = codecs.getincrementaldecoder("utf-8")()
        self._decoder = json.JSONDecoder()
        self.buffer, self.pos, self.eof = "", 0, False

    def _more(self, at_least: int) -> bool:
        if self.eof:
            return False
        if self.pos > _CHUNK:  # drop what was read, so the buffer stays one value long
            self.buffer, self.pos = self.buffer[self.pos :], 0
        raw = self._handle.read(max(_CHUNK, at_least))
        self.eof = not raw
        self.buffer += self._decode.decode(raw, final=self.eof)
        return True

    def peek(self) -> str:
        while True:
            while self.pos < len(self.buffer) and self.buffer[self.pos] in _WHITESPACE:
                self.pos += 1
            if self.pos < len(self.buffer):
                return self.buffer[self.pos]
            if not self._more(_CHUNK):
                raise json.JSONDecodeError("unexpected end of the document", self.buffer, self.pos)

    def expect(self, *characters: str) -> str:
        found = self.peek()
        if found not in characters:
            raise json.JSONDecodeError(f"expected {' or '.join(characters)}", self.buffer, self.pos)
        self.pos += 1
        return found

    def peek_end(self) -> bool:
        """Whether only whitespace is left."""
        try:
            self.peek()
        except json.JSONDecodeError:
            return True
        return False

    def value(self) -> Any:
        self.peek()
        wanted = _CHUNK
        while True:
            try:
                value, end = self._decoder.raw_decode(self.buffer, self.pos)
            except json.JSONDecodeError:
                if not self._more(wanted):
                    raise
            else:
                # A value that reaches the end of the buffer may go on (a number cut in two), and
                # so may a number the decoder stopped before its fraction or exponent ("1." or
                # "1e" of "1.5" or "1e3"): in a valid document nothing else follows a number so.
                cut = end == len(self.buffer) or (
                    isinstance(value, int | float) and self.buffer[end] in _NUMBER_GOES_ON
                )
                if not cut or not self._more(wanted):
                    self.pos = end
                    return value
            wanted *= 2


def load_document(handle: IO[bytes], keep: Mapping[str, frozenset[str]]) -> dict[str, Any]:
    """The top-level arrays named in `keep`, each element cut to the named fields.

    A kept key whose value is not an array is returned as it is, for the caller to refuse.
    """
    reader = _Reader(handle)
    document: dict[str, Any] = {}
    reader.expect("{")
    if reader.peek() == "}":
        reader.expect("}")
        return document
    while True:
        key = reader.value()
        reader.expect(":")
        if not isinstance(key, str):
            raise json.JSONDecodeError("an object key must be a string", reader.buffer, reader.pos)
        if key in keep and reader.peek() == "[":
            document[key] = _array(reader, keep[key])
        elif key in keep:
            document[key] = reader.value()
        else:
            reader.value()
        if reader.expect(",", "}") == "}":
            break
    if reader.peek_end():
        return document
    raise json.JSONDecodeError("extra data after the document", reader.buffer, reader.pos)


def _array(reader: _Reader, fields: frozenset[str]) -> list[Any]:
    items: list[Any] = []
    reader.expect("[")
    if reader.peek() == "]":
        reader.expect("]")
        return items
    while True:
        item = reader.value()
        items.append({k: v for k, v in item.items() if k in fields} if isinstance(item, dict) else item)
        if reader.expect(",", "]") == "]":
            return items
