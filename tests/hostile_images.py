"""A corpus of hostile image files, built on the spot: each hides identifying data somewhere a
byte-level cleaner that only filters segments would miss. Every hidden string contains SECRET,
so a test can search the cleaned bytes for it; `primary` is the image whose pixels must survive.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from PIL import ExifTags, Image, PngImagePlugin

from tests.images import photo

SECRET = b"SECRET"
XMP_NAMESPACE = b"http://ns.adobe.com/xap/1.0/\x00"


@dataclass(frozen=True)
class Hostile:
    name: str
    image_format: str  # "JPEG" / "PNG"
    data: bytes


def _exif(**strings: str) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = strings.get("make", "SECRET-CAM")
    exif[ExifTags.Base.BodySerialNumber] = strings.get("serial", "SECRET-SN-0042")
    return exif


def _with_gps(exif: Image.Exif) -> Image.Exif:
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (52.0, 13.0, 30.0)
    gps[ExifTags.GPS.GPSAreaInformation] = "SECRET-WARD-B"
    return exif


def _jpeg(image: Image.Image, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, **options)
    return buffer.getvalue()


def _insert_after_soi(jpeg: bytes, *segments: bytes) -> bytes:
    return jpeg[:2] + b"".join(segments) + jpeg[2:]


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _xmp(extra: str = "") -> bytes:
    packet = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:creator="SECRET-Dr-Example" '
        f"{extra}/></rdf:RDF></x:xmpmeta>"
    )
    return _segment(0xE1, XMP_NAMESPACE + packet.encode())


def mpf_with_gps_in_second_image() -> Hostile:
    """An MPO (phone depth/preview pair): the second image carries its own EXIF with GPS."""
    second = photo((160, 120), seed=3)
    second.encoderinfo = {"exif": _with_gps(_exif(make="SECRET-SECOND-CAM"))}
    buffer = io.BytesIO()
    photo().save(buffer, "MPO", save_all=True, append_images=[second], exif=_exif(), quality=90)
    return Hostile("mpf-gps-in-second-image", "JPEG", buffer.getvalue())


def motion_photo() -> Hostile:
    """A Google-style motion photo: XMP pointing at an MP4 appended after the JPEG's EOI."""
    video = struct.pack(">I", 24) + b"ftypmp42" + b"\x00\x00\x00\x00mp42isom"
    video += struct.pack(">I", 8 + 40) + b"mdat" + b"SECRET-VIDEO-FRAME-OF-THE-NURSERY......"[:40]
    xmp = _xmp(
        'xmlns:GCamera="http://ns.google.com/photos/1.0/camera/" GCamera:MotionPhoto="1" '
        f'GCamera:MicroVideoOffset="{len(video)}" '
    )
    still = _insert_after_soi(_jpeg(photo(), exif=_with_gps(_exif())), xmp)
    return Hostile("motion-photo", "JPEG", still + video)


def appended_zip() -> Hostile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("SECRET-patient-record.txt", "SECRET: name, date of birth, ward")
    return Hostile("appended-zip", "JPEG", _jpeg(photo()) + buffer.getvalue())


def xmp_and_huge_comment() -> Hostile:
    comment = (b"SECRET-COMMENT " * 4000)[:60_000]
    jpeg = _jpeg(photo(), comment=comment)
    return Hostile("xmp-and-60kB-COM", "JPEG", _insert_after_soi(jpeg, _xmp()))


def icc_iptc_and_adobe_cmyk() -> Hostile:
    """A CMYK JPEG (Adobe APP14 decides its colours), an ICC profile and an IPTC APP13, all with text."""
    icc = b"\x00" * 128 + b"desc SECRET-DEVICE-MODEL"
    iptc = _segment(0xED, b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x10SECRET-BYLINE...")
    jpeg = _jpeg(photo().convert("CMYK"), icc_profile=icc)
    return Hostile("icc-iptc-adobe-cmyk", "JPEG", jpeg[:2] + iptc + jpeg[2:])


def rotated_phone_photo() -> Hostile:
    """EXIF orientation 6 (turn 90° clockwise to view) among other EXIF tags and GPS."""
    exif = _with_gps(_exif())
    exif[ExifTags.Base.Orientation] = 6
    return Hostile("rotated-phone-photo", "JPEG", _jpeg(photo((64, 48)), exif=exif))


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_with_every_text_chunk() -> Hostile:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "SECRET-Dr-Example")
    info.add_text("Comment", "SECRET-compressed " * 20, zip=True)  # zTXt
    info.add_itxt("Description", "SECRET-international", lang="en", tkey="Description")
    info.add(b"tIME", struct.pack(">HBBBBB", 2024, 5, 17, 9, 30, 0))
    info.add(b"prVt", b"SECRET-private-chunk")
    buffer = io.BytesIO()
    photo((320, 240)).save(
        buffer,
        "PNG",
        pnginfo=info,
        exif=_with_gps(_exif()),  # eXIf
        icc_profile=b"\x00" * 128 + b"desc SECRET-DEVICE-MODEL",  # iCCP
    )
    data = buffer.getvalue()
    # A gAMA chunk longer than its 4 bytes: a payload disguised as a harmless colour chunk.
    iend = data.rindex(b"IEND") - 4
    smuggled = _png_chunk(b"gAMA", b"\x00\x00\xb1\x8f" + b"SECRET-in-gAMA")
    return Hostile(
        "png-text-exif-time-iccp", "PNG", data[:iend] + smuggled + data[iend:] + b"SECRET-after-IEND"
    )


HOSTILE: tuple[Callable[[], Hostile], ...] = (
    mpf_with_gps_in_second_image,
    motion_photo,
    appended_zip,
    xmp_and_huge_comment,
    icc_iptc_and_adobe_cmyk,
    rotated_phone_photo,
    png_with_every_text_chunk,
)


def primary_pixels(hostile: Hostile) -> tuple[str, tuple[int, int], bytes]:
    """The pixels a viewer decodes from the file's primary image, before any cleaning."""
    with Image.open(io.BytesIO(hostile.data)) as image:
        image.seek(0)
        return image.mode, image.size, image.tobytes()
