"""Test images made on the spot: real photographs from scikit-image, with the metadata a phone adds."""

from __future__ import annotations

import io

import numpy as np
from PIL import ExifTags, Image
from skimage import data as skdata


def photo(size: tuple[int, int] = (640, 480), seed: int = 0) -> Image.Image:
    """A sharp, well-exposed RGB photograph (scikit-image's astronaut, cropped and resized)."""
    base = Image.fromarray(skdata.astronaut())
    rng = np.random.default_rng(seed)
    left, top = int(rng.integers(0, 64)), int(rng.integers(0, 64))
    return base.crop((left, top, left + 448, top + 448)).resize(size)


def jpeg_with_metadata(size: tuple[int, int] = (640, 480), orientation: int = 1, seed: int = 0) -> bytes:
    """A JPEG carrying EXIF (camera, serial), GPS coordinates and a comment, like a phone photo."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "InfantCam"
    exif[ExifTags.Base.Model] = "Model 7"
    exif[ExifTags.Base.BodySerialNumber] = "SN-123456"
    exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (52.0, 13.0, 30.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (21.0, 0.0, 42.0)
    buffer = io.BytesIO()
    photo(size, seed).save(buffer, "JPEG", quality=90, exif=exif, comment=b"patient 0042, ward B")
    return buffer.getvalue()


def png_with_text(size: tuple[int, int] = (320, 240)) -> bytes:
    from PIL import PngImagePlugin  # noqa: PLC0415

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Dr. Example")
    info.add_text("Comment", "patient 0042")
    buffer = io.BytesIO()
    photo(size).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def blurred_dark_jpeg(size: tuple[int, int] = (320, 240)) -> bytes:
    from PIL import ImageFilter  # noqa: PLC0415

    image = photo(size).filter(ImageFilter.GaussianBlur(6)).point(lambda v: v // 6)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
