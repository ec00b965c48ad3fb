"""Writing a collection's images and keypoints into a ZIP, in COCO keypoints or YOLO pose layout.

Nothing is held whole in memory: items come from the database a page at a time, each image is
read from S3 when it is written and dropped after, and the COCO JSON is written record by record
into its ZIP member. (The ZIP itself streams to S3 as a multipart upload: adapters.s3_streams.)

COCO keypoints layout                          YOLO pose layout
  cradle.json          (what this archive is)    cradle.json
  images/<split>/<image id>.jpg|png              data.yaml
  annotations/person_keypoints_<split>.json      images/<split>/<image id>.jpg|png
                                                 labels/<split>/<image id>.txt
A COCO `file_name` is the image's name within its split's folder, as COCO's own files are.
Images are stored as they are (JPEG and PNG are compressed already); text is deflated.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cradlepose.db.models import Annotation, CollectionItem, Image
from cradlepose.domain import coco_keypoints, yolo_pose
from cradlepose.domain.enums import DatasetSplit, ExportFormat
from cradlepose.domain.keypoint_schema import SchemaDefinition
from cradlepose.domain.keypoints import KeypointSet
from cradlepose.domain.splits import SPLIT_ORDER

PAGE = 500
EXTENSIONS = {"JPEG": "jpg", "PNG": "png"}


@dataclass(frozen=True)
class ArchiveItem:
    image_id: int
    split: DatasetSplit
    storage_path: str
    image_format: str
    width: int
    height: int
    keypoints: KeypointSet | None
    infant_metadata: Mapping[str, Any] | None
    source_institution: str | None

    @property
    def file_name(self) -> str:
        return f"{self.image_id}.{EXTENSIONS.get(self.image_format, 'jpg')}"

    def export_item(self) -> coco_keypoints.ExportItem:
        return coco_keypoints.ExportItem(
            image_id=self.image_id,
            file_name=self.file_name,
            width=self.width,
            height=self.height,
            keypoints=self.keypoints,
            infant_metadata=self.infant_metadata,
            source_institution=self.source_institution,
        )


Pages = Callable[[DatasetSplit], Iterator[list[ArchiveItem]]]


def collection_pages(session: Session, collection_id: int) -> Pages:
    """A collection's items split by split, a page at a time, in image order (keyset paging)."""

    def pages(split: DatasetSplit) -> Iterator[list[ArchiveItem]]:
        after = 0
        while True:
            rows = session.execute(
                sa.select(CollectionItem, Image, Annotation.refined_keypoints)
                .join(Image, Image.id == CollectionItem.image_id)
                .outerjoin(Annotation, Annotation.id == CollectionItem.annotation_id)
                .where(
                    CollectionItem.collection_id == collection_id,
                    CollectionItem.split == split,
                    CollectionItem.image_id > after,
                )
                .order_by(CollectionItem.image_id)
                .limit(PAGE)
            ).all()
            if not rows:
                return
            yield [_item(member, image, refined) for member, image, refined in rows]
            after = rows[-1][0].image_id

    return pages


def _item(member: CollectionItem, image: Image, refined: dict[str, Any] | None) -> ArchiveItem:
    # A verified item exports its annotation version; an imported one its imported pre-annotation.
    payload = refined if member.annotation_id is not None else image.yolo_keypoints
    keypoints = None
    if payload is not None:
        keypoints = KeypointSet.model_validate(payload).model_copy(update={"modifications_from_yolo": None})
    return ArchiveItem(
        image_id=image.id,
        split=member.split,
        storage_path=image.storage_path,
        image_format=image.format,
        width=image.width,
        height=image.height,
        keypoints=keypoints,
        infant_metadata=image.infant_metadata,
        source_institution=image.source_institution,
    )


def write_archive(
    target: IO[bytes],
    *,
    export_format: ExportFormat,
    schema: SchemaDefinition,
    title: str,
    manifest: Mapping[str, Any],
    pages: Pages,
    read_image: Callable[[str], bytes],
) -> dict[str, int]:
    """Write the whole archive to `target`; returns the number of images per split."""
    written: dict[str, int] = {}
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for split in SPLIT_ORDER:
            count = _write_images(archive, split, pages, read_image, export_format, schema)
            if count == 0:
                continue
            written[split.value] = count
            if export_format is ExportFormat.COCO_KEYPOINTS:
                _write_coco(archive, split, pages, schema, title)
        if not written:
            raise ValueError("the collection has no images to pack")
        if export_format is ExportFormat.YOLO_POSE:
            splits = [DatasetSplit(s) for s in written]
            archive.writestr("data.yaml", yolo_pose.dataset_yaml(schema, splits, title))
        archive.writestr("cradle.json", json.dumps({**manifest, "images": written}, indent=2, default=str))
    return written


def _write_images(
    archive: zipfile.ZipFile,
    split: DatasetSplit,
    pages: Pages,
    read_image: Callable[[str], bytes],
    export_format: ExportFormat,
    schema: SchemaDefinition,
) -> int:
    count = 0
    for page in pages(split):
        for item in page:
            archive.writestr(
                f"images/{split.value}/{item.file_name}", read_image(item.storage_path), zipfile.ZIP_STORED
            )
            if export_format is ExportFormat.YOLO_POSE:
                line = (
                    yolo_pose.label_line(item.keypoints, schema, item.width, item.height)
                    if item.keypoints
                    else None
                )
                archive.writestr(f"labels/{split.value}/{item.image_id}.txt", (line + "\n") if line else "")
            count += 1
    return count


def _write_coco(
    archive: zipfile.ZipFile, split: DatasetSplit, pages: Pages, schema: SchemaDefinition, title: str
) -> None:
    name = f"annotations/person_keypoints_{split.value}.json"
    with archive.open(name, "w", force_zip64=True) as member:

        def put(text: str) -> None:
            member.write(text.encode())

        info = {"description": title, "version": "1.0", "contributor": "Cradle"}
        put('{"info": ' + json.dumps(info) + ', "licenses": [], "images": [')
        first = True
        for page in pages(split):
            for item in page:
                put(("" if first else ",") + json.dumps(coco_keypoints.image_record(item.export_item())))
                first = False
        put('], "annotations": [')
        annotation_id, first = 0, True
        for page in pages(split):
            for item in page:
                record = coco_keypoints.annotation_record(item.export_item(), annotation_id + 1, schema)
                if record is None:
                    continue
                annotation_id += 1
                put(("" if first else ",") + json.dumps(record))
                first = False
        put('], "categories": [' + json.dumps(coco_keypoints.category(schema)) + "]}")
