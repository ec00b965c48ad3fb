"""File-type sniffing, lossless metadata removal, quality scoring."""

from __future__ import annotations

import contextlib
import io
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps

from cradlepose.domain.quality import ImageMeasurements, assess
from cradlepose.imaging import measure, metadata
from cradlepose.imaging.sniff import sniff
from tests.images import PDF_BYTES, jpeg_with_metadata, png_with_text

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("head", "name", "accepted"),
    [
        (b"\xff\xd8\xff\xe0", "JPEG image", "JPEG"),
        (b"\x89PNG\r\n\x1a\n", "PNG image", "PNG"),
        (PDF_BYTES[:16], "PDF document", None),
        (b"GIF89a....", "GIF image", None),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "WebP image", None),
        (b"\x00\x00\x00\x18ftypheic", "HEIF/AVIF image", None),
        (b"PK\x03\x04", "ZIP archive", None),
        (b"hello world", "unrecognised data", None),
    ],
)
def test_sniff_reads_the_bytes_not_the_name(head: bytes, name: str, accepted: str | None) -> None:
    detected = sniff(head)
    assert detected.name == name
    assert detected.image_format == accepted


def test_jpeg_cleaning_removes_every_identifying_segment_and_keeps_pixels() -> None:
    original = jpeg_with_metadata()
    cleaned = metadata.clean(original, "JPEG")
    assert cleaned.orientation == 1
    assert b"Exif" not in cleaned.data
    assert b"InfantCam" not in cleaned.data
    assert b"patient 0042" not in cleaned.data
    with Image.open(io.BytesIO(original)) as a, Image.open(io.BytesIO(cleaned.data)) as b:
        assert np.array_equal(np.asarray(a), np.asarray(b))
        assert dict(b.getexif()) == {}


def test_icc_profiles_are_dropped_because_their_text_cannot_be_told_harmless() -> None:
    icc = b"\x00" * 128 + b"a colour profile naming a device"
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), "red").save(buffer, "JPEG", icc_profile=icc)
    cleaned = metadata.clean(buffer.getvalue(), "JPEG")
    with Image.open(io.BytesIO(cleaned.data)) as image, Image.open(buffer) as original:
        assert "icc_profile" not in image.info
        assert np.array_equal(np.asarray(original), np.asarray(image))


def test_a_rotated_phone_photo_keeps_its_pixels_and_only_its_orientation() -> None:
    original = jpeg_with_metadata((64, 48), orientation=6)  # rotate 90° clockwise to view
    cleaned = metadata.clean(original, "JPEG")
    assert cleaned.orientation == 6
    assert cleaned.turned
    with Image.open(io.BytesIO(cleaned.data)) as image, Image.open(io.BytesIO(original)) as before:
        assert image.size == (64, 48)  # not re-encoded: the stored pixels are the original's
        assert np.array_equal(np.asarray(before), np.asarray(image))
        assert dict(image.getexif()) == {0x0112: 6}  # nothing but the orientation
        assert ImageOps.exif_transpose(image).size == (48, 64)


def test_png_text_chunks_are_dropped_losslessly() -> None:
    original = png_with_text()
    cleaned = metadata.clean(original, "PNG").data
    assert b"tEXt" not in cleaned
    assert b"Dr. Example" not in cleaned
    with Image.open(io.BytesIO(original)) as a, Image.open(io.BytesIO(cleaned)) as b:
        assert np.array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("data", [b"\xff\xd8\xff\xe1\xff\xff", b"\xff\xd8", b"\xff\xd8\x00\x00"])
def test_truncated_or_broken_jpegs_raise(data: bytes) -> None:
    with pytest.raises(metadata.MalformedImage):
        metadata.strip_jpeg(data)


@settings(max_examples=50)
@given(st.binary(min_size=0, max_size=200))
def test_stripping_random_bytes_never_crashes_differently(data: bytes) -> None:
    for image_format in ("JPEG", "PNG"):
        for read in (metadata.clean, metadata.residue, metadata.header_size):
            with contextlib.suppress(metadata.MalformedImage):
                read(data, image_format)
    for prefix in (b"\xff\xd8", metadata.PNG_SIGNATURE):
        with contextlib.suppress(metadata.MalformedImage):
            metadata.clean(prefix + data, "JPEG" if prefix == b"\xff\xd8" else "PNG")


def test_measurements_see_blur_and_darkness() -> None:
    sharp = measure.measure(jpeg_with_metadata((800, 600)))
    from tests.images import blurred_dark_jpeg  # noqa: PLC0415

    dull = measure.measure(blurred_dark_jpeg((800, 600)))
    assert sharp.sharpness > 5 * dull.sharpness
    assert dull.brightness < 50 < sharp.brightness
    assert (sharp.width, sharp.height) == (800, 600)


@pytest.mark.parametrize(
    ("m", "score", "issues"),
    [
        (ImageMeasurements(1920, 1080, 400, 120, 0.01, 0.01), "10.0", []),
        (ImageMeasurements(1920, 1080, 100, 120, 0.01, 0.01), "8.0", ["slight_blur"]),
        (ImageMeasurements(1920, 1080, 10, 30, 0.5, 0.0), "4.0", ["blur", "underexposed"]),
        (ImageMeasurements(640, 480, 400, 230, 0.0, 0.3), "7.0", ["overexposed", "modest_resolution"]),
        (ImageMeasurements(320, 240, 10, 20, 0.9, 0.0), "1.0", ["blur", "underexposed", "low_resolution"]),
    ],
)
def test_quality_score_rules(m: ImageMeasurements, score: str, issues: list[str]) -> None:
    result = assess(m)
    assert result.score == Decimal(score)
    assert result.issues == issues


@given(
    st.integers(1, 8000),
    st.integers(1, 8000),
    st.floats(0, 10_000),
    st.floats(0, 255),
    st.floats(0, 1),
    st.floats(0, 1),
)
def test_quality_score_stays_on_the_seed_scale(
    w: int, h: int, sharp: float, bright: float, dark: float, light: float
) -> None:
    result = assess(ImageMeasurements(w, h, sharp, bright, dark, light))
    assert Decimal(1) <= result.score <= Decimal(10)
    assert result.has_issues == (result.score < 10)
