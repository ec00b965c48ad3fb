"""What an import archive may be, checked from its central directory before a byte is inflated.

A ZIP says in its directory how many members it has and how big each is once inflated; Python's
zipfile never inflates a member past its declared size (and fails its CRC if the data says
otherwise), so checking the declared sizes bounds what reading can cost: a zip bomb (a few kB
that inflate to terabytes, or a million empty members) is refused here.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass

from cradlepose.domain.errors import ValidationFailed

MiB = 1024 * 1024
MAX_MEMBERS = 200_000  # a COCO dataset of ~200k images; more members than that is not a dataset
MAX_JSON_BYTES = 256 * MiB  # one COCO document, inflated (COCO 2017's train keypoints: 227 MiB)
MAX_TOTAL_JSON_BYTES = 512 * MiB
MAX_RATIO = 200  # inflated / compressed for one member; JSON compresses ~10×, bombs ~1000×
_RATIO_FLOOR = MiB  # small members may compress as well as they like


@dataclass(frozen=True)
class ArchiveLimits:
    max_total_bytes: int  # every member, inflated
    max_image_bytes: int  # one image, as for an upload


@dataclass(frozen=True)
class Directory:
    documents: list[zipfile.ZipInfo]
    json_bytes: int


def check_directory(
    archive: zipfile.ZipFile,
    limits: ArchiveLimits,
    is_document: Callable[[zipfile.ZipInfo], bool],
    is_image: Callable[[zipfile.ZipInfo], bool],
) -> Directory:
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ValidationFailed.single(
            "archive", f"has {len(infos)} members; an import takes at most {MAX_MEMBERS}"
        )
    total = sum(i.file_size for i in infos)
    if total > limits.max_total_bytes:
        raise ValidationFailed.single(
            "archive", f"inflates to {total} bytes; an import takes at most {limits.max_total_bytes}"
        )
    documents: list[zipfile.ZipInfo] = []
    for info in infos:
        if info.file_size > _RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise ValidationFailed.single(
                info.filename,
                f"inflates {info.file_size // max(info.compress_size, 1)}-fold; "
                f"more than {MAX_RATIO} is a zip bomb",
            )
        if is_document(info):
            if info.file_size > MAX_JSON_BYTES:
                raise ValidationFailed.single(
                    info.filename, f"is {info.file_size} bytes; a COCO file may have {MAX_JSON_BYTES}"
                )
            documents.append(info)
        elif is_image(info) and info.file_size > limits.max_image_bytes:
            raise ValidationFailed.single(
                info.filename, f"is {info.file_size} bytes; an image may have {limits.max_image_bytes}"
            )
    json_bytes = sum(d.file_size for d in documents)
    if json_bytes > MAX_TOTAL_JSON_BYTES:
        raise ValidationFailed.single(
            "archive",
            f"holds {json_bytes} bytes of COCO files; an import takes at most {MAX_TOTAL_JSON_BYTES}",
        )
    return Directory(documents, json_bytes)
