"""An image counts as anonymized only once this says so.

`anonymize` reads the pixel dimensions from the header and refuses a decompression bomb before
anything is decoded, rebuilds the file from what its pixels need (cradlepose.imaging.metadata),
then checks its own work: the rebuilt file must hold nothing beyond pixels (`metadata.residue`),
and its decoded pixels must be exactly those of the original's primary image. Only then does it
return an `Anonymized`; the image row's `anonymization_status` comes from it.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from cradlepose.imaging import metadata
from cradlepose.imaging.metadata import MalformedImage

MAX_PIXELS = 100_000_000
_STRIP_ROWS = 256  # pixels are hashed a strip at a time: one decoded image in memory, not two


class ImageTooLarge(ValueError):
    """The header declares more pixels than Cradle decodes."""


class NotAnonymized(ValueError):
    """The rebuilt file still holds something beyond pixels, or its pixels changed."""


def unreadable_errors() -> tuple[type[Exception], ...]:
    """What reading a file that does not hold together raises: the cleaner's own refusal and
    Pillow's (truncated data, bad headers, a bomb past Pillow's own limit). Uploads reject on these
    and imports refuse the archive, both with "corrupt or unreadable"."""
    from PIL import Image  # noqa: PLC0415 - Pillow loads on first use, not with the API

    return (MalformedImage, OSError, SyntaxError, ValueError, Image.DecompressionBombError)


@dataclass(frozen=True)
class Anonymized:
    data: bytes
    orientation: int  # EXIF orientation kept in the file; viewers apply it
    width: int  # as shown, i.e. after the orientation is applied
    height: int
    # SHA-256 of the cleaned file's decoded pixels (mode and size included): the same for two
    # files whatever metadata they carried, the key of exact duplicates (issue 19).
    pixel_sha256: str = ""


def _pixels(data: bytes, image_format: str) -> tuple[str, tuple[int, int], bytes]:
    from PIL import Image  # noqa: PLC0415 - Pillow loads on first use, not with the API

    with Image.open(io.BytesIO(data), formats=[image_format]) as image:
        image.load()  # the primary image only (an MPO's first frame); raises when truncated
        digest = hashlib.sha256()
        width, height = image.size
        for top in range(0, height, _STRIP_ROWS):
            digest.update(image.crop((0, top, width, min(height, top + _STRIP_ROWS))).tobytes())
        return image.mode, image.size, digest.digest()


def check_size(data: bytes, image_format: str, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    width, height = metadata.header_size(data, image_format)
    if width * height > max_pixels:
        raise ImageTooLarge(f"{width}×{height} pixels is more than the {max_pixels:,} Cradle accepts")
    return width, height


def anonymize(data: bytes, image_format: str, max_pixels: int = MAX_PIXELS) -> Anonymized:
    """Raises ImageTooLarge, MalformedImage, NotAnonymized, or Pillow's errors for broken data."""
    declared = check_size(data, image_format, max_pixels)
    cleaned = metadata.clean(data, image_format)
    left = metadata.residue(cleaned.data, image_format)
    if left:
        raise NotAnonymized("the cleaned file still holds " + ", ".join(left))
    mode, size, digest = _pixels(data, image_format)
    if size != declared:
        raise MalformedImage(
            f"the header says {declared[0]}×{declared[1]}, the pixels are {size[0]}×{size[1]}"
        )
    if _pixels(cleaned.data, image_format) != (mode, size, digest):
        raise NotAnonymized("the cleaned file's pixels differ from the original's")
    width, height = (size[1], size[0]) if cleaned.turned else size
    fingerprint = hashlib.sha256(f"{mode}:{size[0]}x{size[1]}:{cleaned.orientation}:".encode())
    fingerprint.update(digest)
    return Anonymized(cleaned.data, cleaned.orientation, width, height, fingerprint.hexdigest())
