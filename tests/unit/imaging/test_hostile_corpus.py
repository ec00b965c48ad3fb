"""Nothing but pixels survives ingest: every file of the hostile corpus, cleaned, holds no trace
of what it hid, one image only, and exactly the pixels of the original's primary image."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

import pytest
from PIL import Image, ImageOps

from cradlepose.imaging import anonymize, metadata
from tests.hostile_images import HOSTILE, SECRET, Hostile, primary_pixels, rotated_phone_photo

pytestmark = pytest.mark.unit

_CRITICAL_OR_NUMERIC_PNG = {
    b"IHDR",
    b"PLTE",
    b"IDAT",
    b"IEND",
    b"tRNS",
    b"gAMA",
    b"cHRM",
    b"sRGB",
    b"sBIT",
    b"pHYs",
}
_PNG_FIXED_LENGTH = {b"gAMA": 4, b"cHRM": 32, b"sRGB": 1, b"pHYs": 9}
# Pillow's names for what it found beside the pixels; only what Cradle writes may be there.
_ALLOWED_INFO = {
    "jfif",
    "jfif_version",
    "jfif_unit",
    "jfif_density",
    "dpi",
    "adobe",
    "adobe_transform",
    "exif",
}


def _jpeg_markers_before_scan(data: bytes) -> list[tuple[int, int]]:
    """(marker, length) of every segment before the first SOS: a walker of its own, not Cradle's."""
    found, pos = [], 2
    while data[pos + 1] != 0xDA:
        marker, (length,) = data[pos + 1], struct.unpack(">H", data[pos + 2 : pos + 4])
        found.append((marker, length))
        pos += 2 + length
    return found


def _png_chunks(data: bytes) -> list[tuple[bytes, int]]:
    found, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        found.append((data[pos + 4 : pos + 8], length))
        pos += 12 + length
    return found


@pytest.fixture(params=HOSTILE, ids=lambda make: make.__name__)
def hostile(request: pytest.FixtureRequest) -> Hostile:
    make: Callable[[], Hostile] = request.param
    made = make()
    assert SECRET in made.data or made.name.startswith("mpf")  # the corpus really hides something
    return made


def test_nothing_but_pixels_survives(hostile: Hostile) -> None:
    result = anonymize.anonymize(hostile.data, hostile.image_format)
    data = result.data

    assert SECRET not in data
    assert metadata.residue(data, hostile.image_format) == []
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == hostile.image_format  # an MPO is now a plain JPEG
        assert set(image.info) <= _ALLOWED_INFO
        exif = dict(image.getexif())
        assert exif == ({0x0112: result.orientation} if result.orientation != 1 else {})
    if hostile.image_format == "JPEG":
        assert data.count(b"\xff\xd8") == 1  # one image: no MPF secondary, no EXIF/JFIF thumbnail
        assert data.endswith(b"\xff\xd9")  # nothing after the primary image's EOI
        for marker, length in _jpeg_markers_before_scan(data):
            assert marker != 0xFE, "a COM segment survived"
            if 0xE0 <= marker <= 0xEF:
                assert (marker, length) in {(0xE0, 16), (0xEE, 14), (0xE1, 34)}, hex(marker)
    else:
        chunks = _png_chunks(data)
        assert chunks[-1][0] == b"IEND"  # nothing after IEND
        for kind, length in chunks:
            assert kind in _CRITICAL_OR_NUMERIC_PNG, kind
            assert length == _PNG_FIXED_LENGTH.get(kind, length), kind


def test_pixels_are_exactly_the_primary_images(hostile: Hostile) -> None:
    result = anonymize.anonymize(hostile.data, hostile.image_format)
    with Image.open(io.BytesIO(result.data)) as image:
        assert (image.mode, image.size, image.tobytes()) == primary_pixels(hostile)


def test_the_mpf_secondary_image_and_its_gps_are_gone() -> None:
    from tests.hostile_images import mpf_with_gps_in_second_image  # noqa: PLC0415

    original = mpf_with_gps_in_second_image()
    with Image.open(io.BytesIO(original.data)) as image:
        assert getattr(image, "n_frames", 1) == 2
    data = anonymize.anonymize(original.data, "JPEG").data
    with Image.open(io.BytesIO(data)) as image:
        assert getattr(image, "n_frames", 1) == 1
        assert "mp" not in image.info
        assert b"MPF\x00" not in data


def test_orientation_is_kept_not_applied_and_the_size_is_as_shown() -> None:
    original = rotated_phone_photo()
    result = anonymize.anonymize(original.data, "JPEG")
    assert result.orientation == 6
    assert (result.width, result.height) == (48, 64)  # what a viewer shows, keypoints' frame
    with Image.open(io.BytesIO(result.data)) as image:
        assert image.size == (64, 48)  # stored as it came: no re-encode
        assert ImageOps.exif_transpose(image).size == (result.width, result.height)


def _declaring(data: bytes, image_format: str, width: int, height: int) -> bytes:
    if image_format == "PNG":  # IHDR with its CRC recomputed, so only the size lies
        ihdr = b"IHDR" + struct.pack(">II", width, height) + data[24:29]
        return data[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + data[33:]
    sof = next(data.index(bytes((0xFF, m)), 2) for m in (0xC0, 0xC2) if bytes((0xFF, m)) in data)
    return data[: sof + 5] + struct.pack(">HH", height, width) + data[sof + 9 :]


@pytest.mark.parametrize("image_format", ["JPEG", "PNG"])
def test_a_decompression_bomb_is_refused_from_its_header_before_any_decode(
    image_format: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), "white").save(buffer, image_format)
    bomb = _declaring(buffer.getvalue(), image_format, 50_000, 50_000)

    def no_decoding(*_: object, **__: object) -> None:
        raise AssertionError("the image was opened for decoding")

    monkeypatch.setattr(Image, "open", no_decoding)
    with pytest.raises(anonymize.ImageTooLarge, match="50000×50000"):
        anonymize.anonymize(bomb, image_format)


def test_a_header_that_lies_about_the_size_is_malformed() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), "white").save(buffer, "PNG")
    liar = _declaring(buffer.getvalue(), "PNG", 32, 16)
    with pytest.raises((metadata.MalformedImage, OSError, SyntaxError)):
        anonymize.anonymize(liar, "PNG")
