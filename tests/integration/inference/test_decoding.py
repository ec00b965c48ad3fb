"""Decoding and format sniffing: what each kind of bad file is called, and what reaches the GPU."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from cradle_inference.decoding import ImageDecodeError, decode_bgr, sniff_format
from cradle_inference.gpu_decoding import decode_jpegs_on_gpu, gpu_decodable
from cradle_inference.jpeg_structure import jpeg_damage

pytestmark = pytest.mark.unit


def _jpeg(image: Image.Image, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **options)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def picture() -> Image.Image:
    gradient = np.linspace(0, 255, 64 * 48 * 3).reshape(48, 64, 3).astype(np.uint8)
    return Image.fromarray(gradient, "RGB")


def test_sniffing_names_what_the_bytes_are(sample_bytes: dict[str, bytes], pdf_named_jpg: bytes) -> None:
    assert sniff_format(sample_bytes["bus.jpg"]) == "JPEG"
    assert sniff_format(pdf_named_jpg) == "PDF document"
    assert sniff_format(b"PK\x03\x04rest") == "ZIP archive"
    assert sniff_format(b"\x00\x00\x00\x18ftypheic") == "HEIF"
    assert sniff_format(b"hello") is None


def test_decode_gives_bgr_pixels_like_opencv(sample_bytes: dict[str, bytes]) -> None:
    data = sample_bytes["zidane.jpg"]
    expected = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert expected is not None
    assert np.array_equal(decode_bgr(data), expected)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (b"%PDF-1.7\n...", "the content is a PDF document"),
        (b"just some text", "unrecognised data"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "could not decode PNG data"),
    ],
)
def test_decode_errors_say_why(data: bytes, message: str) -> None:
    with pytest.raises(ImageDecodeError, match=message):
        decode_bgr(data)


def test_jpeg_structure_accepts_valid_flavours(picture: Image.Image, sample_bytes: dict[str, bytes]) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    assert jpeg_damage(sample_bytes["bus.jpg"]) is None
    assert jpeg_damage(_jpeg(picture, progressive=True, optimize=True)) is None
    assert jpeg_damage(_jpeg(picture, exif=exif.tobytes())) is None
    assert jpeg_damage(_jpeg(picture.convert("L"))) is None
    assert jpeg_damage(_jpeg(picture) + b"\xff\x12 a camera trailer after the image") is None
    ok, with_restarts = cv2.imencode(".jpg", np.asarray(picture), [cv2.IMWRITE_JPEG_RST_INTERVAL, 2])
    assert ok
    assert jpeg_damage(with_restarts.tobytes()) is None


def test_jpeg_structure_finds_damage(corrupt_jpeg: bytes, sample_bytes: dict[str, bytes]) -> None:
    data = sample_bytes["bus.jpg"]
    assert jpeg_damage(corrupt_jpeg) == "corrupt compressed data (byte 834)"
    assert jpeg_damage(data[: len(data) // 2]) == "truncated: no end-of-image marker"
    assert jpeg_damage(data[:300]) == "truncated before the image data"
    assert jpeg_damage(b"\xff\xd8\xff\xd9") == "truncated before the image data"
    assert jpeg_damage(b"not a jpeg") == "no JPEG start-of-image marker"


def test_only_plain_upright_jpegs_go_to_the_gpu(
    picture: Image.Image, png_bytes: bytes, corrupt_jpeg: bytes
) -> None:
    rotated = Image.Exif()
    rotated[0x0112] = 6  # OpenCV turns it upright; nvJPEG would not
    assert gpu_decodable(_jpeg(picture))
    assert gpu_decodable(_jpeg(picture.convert("L")))
    assert not gpu_decodable(_jpeg(picture, exif=rotated.tobytes()))
    assert not gpu_decodable(_jpeg(picture.convert("CMYK")))
    assert not gpu_decodable(png_bytes)
    assert not gpu_decodable(corrupt_jpeg)


def test_batch_decode_isolates_a_file_it_cannot_decode(picture: Image.Image) -> None:
    # The GPU decoder's fallback logic, run on the CPU device (same torchvision call, same errors).
    good = _jpeg(picture)
    header_only = good[:200]

    decoded = decode_jpegs_on_gpu([good, header_only, good], torch.device("cpu"), _NoStream())

    assert decoded[1] is None
    for image in (decoded[0], decoded[2]):
        assert image is not None
        assert image.shape == (3, 48, 64)
        assert image.dtype == torch.uint8


class _NoStream:
    def synchronize(self) -> None:
        pass
