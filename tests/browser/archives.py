"""Dataset archives a researcher would upload for import (the browser tests and the screenshots)."""

from __future__ import annotations

import io
import json
import zipfile

from cradlepose.domain.keypoint_schema import COCO17_NAMES
from tests.browser import scene


def zip_of(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


def coco_archive(count: int) -> bytes:
    """A COCO keypoints archive of `count` synthetic pictures, as another project would publish one."""
    images, annotations, members = [], [], {}
    for n in range(count):
        picture = scene.scene(9000 + n)
        truth = scene.pose(9000 + n)
        members[f"images/train/frame-{n}.jpg"] = picture.jpeg
        images.append(
            {"id": n + 1, "file_name": f"frame-{n}.jpg", "width": scene.WIDTH, "height": scene.HEIGHT}
        )
        flat = [
            value
            for k in range(len(COCO17_NAMES))
            for value in (round(truth[k][0], 2), round(truth[k][1], 2), 2)
        ]
        annotations.append({"id": n + 1, "image_id": n + 1, "category_id": 1, "keypoints": flat,
                            "num_keypoints": len(COCO17_NAMES), "iscrowd": 0})  # fmt: skip
    document = {"images": images, "annotations": annotations,
                "categories": [{"id": 1, "name": "infant", "keypoints": list(COCO17_NAMES), "skeleton": []}]}  # fmt: skip
    members["annotations/person_keypoints_train.json"] = json.dumps(document).encode()
    return zip_of(members)
