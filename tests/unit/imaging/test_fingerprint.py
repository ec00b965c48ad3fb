"""Duplicates (issue 19): the cleaned pixels' SHA-256 ignores metadata; the dHash survives
resizing and re-compression and tells different photographs apart."""

from __future__ import annotations

import io
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from skimage import data as skdata

from cradlepose.imaging import anonymize, fingerprint
from tests.images import jpeg_with_metadata

pytestmark = pytest.mark.unit

# Photographs that are not one another (scikit-image's `cat` is `chelsea` under another name).
DIFFERENT = ("astronaut", "coffee", "chelsea", "camera", "rocket", "immunohistochemistry", "coins", "horse")


def _photo(name: str) -> Image.Image:
    return Image.fromarray(getattr(skdata, name)()).convert("RGB")


def _encode(image: Image.Image, image_format: str = "JPEG", quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    if image_format == "JPEG":
        image.save(buffer, "JPEG", quality=quality)
    else:
        image.save(buffer, image_format)
    return buffer.getvalue()


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(DIFFERENT),
    scale=st.floats(min_value=0.5, max_value=0.9),
    quality=st.integers(min_value=60, max_value=95),
)
def test_a_resized_recompressed_copy_is_a_near_duplicate(name: str, scale: float, quality: int) -> None:
    original = _photo(name)
    copy = original.resize((round(original.width * scale), round(original.height * scale)))

    bits = fingerprint.distance(
        fingerprint.dhash(_encode(original, "PNG")), fingerprint.dhash(_encode(copy, quality=quality))
    )

    assert bits <= fingerprint.NEAR_DUPLICATE_BITS


@pytest.mark.parametrize(("a", "b"), list(itertools.combinations(DIFFERENT, 2)))
def test_different_photographs_are_not_near_duplicates(a: str, b: str) -> None:
    bits = fingerprint.distance(fingerprint.dhash(_encode(_photo(a))), fingerprint.dhash(_encode(_photo(b))))

    assert bits > fingerprint.NEAR_DUPLICATE_BITS


def test_the_hash_is_of_the_image_as_shown() -> None:
    upright = _photo("astronaut")
    stored_turned = upright.transpose(Image.Transpose.ROTATE_90)  # shown upright by orientation 6

    assert fingerprint.dhash(_encode(stored_turned, "PNG"), orientation=6) == fingerprint.dhash(
        _encode(upright, "PNG")
    )


@given(st.integers(min_value=0, max_value=(1 << 64) - 1), st.integers(min_value=0, max_value=(1 << 64) - 1))
def test_signed_storage_keeps_the_distance(a: int, b: int) -> None:
    signed_a, signed_b = fingerprint.to_signed(a), fingerprint.to_signed(b)

    assert -(1 << 63) <= signed_a < 1 << 63
    assert fingerprint.distance(signed_a, signed_b) == fingerprint.distance(a, b) == (a ^ b).bit_count()


def test_the_pixel_hash_ignores_metadata_and_sees_one_changed_pixel() -> None:
    with_exif = jpeg_with_metadata((320, 240))
    other_exif = with_exif.replace(b"SN-123456", b"SN-999999").replace(b"patient 0042", b"patient 0077")
    assert other_exif != with_exif
    with Image.open(io.BytesIO(with_exif)) as decoded:
        pixels = decoded.copy()
    changed = pixels.copy()
    changed.putpixel((0, 0), (255, 0, 255))

    first = anonymize.anonymize(with_exif, "JPEG")
    second = anonymize.anonymize(other_exif, "JPEG")
    as_png = anonymize.anonymize(_encode(pixels, "PNG"), "PNG")
    one_pixel_off = anonymize.anonymize(_encode(changed, "PNG"), "PNG")

    assert len(first.pixel_sha256) == 64
    assert first.pixel_sha256 == second.pixel_sha256  # other metadata, same pixels
    assert as_png.pixel_sha256 == first.pixel_sha256  # same mode, size and pixels in another format
    assert one_pixel_off.pixel_sha256 != as_png.pixel_sha256
