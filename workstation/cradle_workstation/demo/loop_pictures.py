"""The loop experiment's pictures and the reference labelling its simulated annotators work toward.

Pictures: the four photographs of people that ship inside installed packages (demo.samples:
Ultralytics' bus and zidane, scikit-image's astronaut and cameraman), each drawn many times as a
variant (a crop keeping 70–100 % of each side, a mirror half the time, brightness ×0.6–1.4),
scaled to IMAGE_SIDE px on the longer side and encoded as JPEG. Everything follows from the seed.
Each photograph is one "infant" (a pseudonym per photograph), so the loop's held-out split, grouped
by infant, never tests a model on a photograph it was trained on.

The reference labelling (the "truth" the annotators correct toward) is defined, not measured:
yolo11n-pose as shipped, run by Cradle's own inference engine at its full input size (640), on
the very bytes that are uploaded, for the person the pipeline would choose; then every keypoint
moved by a fixed per-joint offset, HOUSE_STYLE_PX (this lab's "house style": hips, shoulders and
limbs placed a few pixels lower than the model puts them), plus Gaussian noise (NOISE_PX per
axis, seeded per picture). Every keypoint is labelled, as the schema wants: one the shipped model
thinks absent (out of the picture, hidden) is placed where it guessed and marked occluded, as the
demo's annotator does. A picture in which the shipped model finds nobody is drawn again.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageEnhance, ImageOps

from cradle_workstation.demo.samples import sample_paths
from cradlepose.domain.enums import Visibility

IMAGE_SIDE = 320  # the longer side of every picture, in pixels
CROP_KEEPS = (0.7, 1.0)  # the share of each side a crop keeps
BRIGHTNESS = (0.6, 1.4)
MAX_DRAWS = 20  # per picture: a variant in which nobody is found is drawn again, at most this often

# The house style, per COCO keypoint id: (dx, dy) in pixels at IMAGE_SIDE. Vertical only, so that a
# mirrored picture has the same style (a sideways offset would flip with the picture, left for
# right). The face is labelled where the model puts it.
HOUSE_STYLE_PX: dict[int, tuple[float, float]] = {
    0: (0.0, 0.0), 1: (0.0, 0.0), 2: (0.0, 0.0), 3: (0.0, 0.0), 4: (0.0, 0.0),  # nose, eyes, ears
    5: (0.0, 4.0), 6: (0.0, 4.0),  # shoulders
    7: (0.0, 3.0), 8: (0.0, 3.0),  # elbows
    9: (0.0, 3.0), 10: (0.0, 3.0),  # wrists
    11: (0.0, 6.0), 12: (0.0, 6.0),  # hips
    13: (0.0, 4.0), 14: (0.0, 4.0),  # knees
    15: (0.0, 3.0), 16: (0.0, 3.0),  # ankles
}  # fmt: skip
NOISE_PX = 1.0  # standard deviation of the reference's noise, per axis

SUBJECTS = {  # each photograph's pseudonym: the loop groups its held-out split by infant
    "bus.jpg": "bus-1",
    "zidane.jpg": "zid-2",
    "astronaut.png": "ast-3",
    "cameraman.png": "cam-4",
}


@dataclass(frozen=True)
class Picture:
    filename: str
    subject: str  # the photograph's pseudonym
    jpeg: bytes
    width: int
    height: int
    reference: list[dict[str, Any]]  # the reference labelling: {id, name, x, y, visible} per keypoint


def _photographs() -> dict[str, Image.Image]:
    opened = {}
    for name, path in sample_paths().items():
        with Image.open(path) as image:
            opened[name] = image.convert("RGB")
    return opened


def _variant(photo: Image.Image, rng: random.Random) -> Image.Image:
    width, height = photo.size
    keep_w, keep_h = rng.uniform(*CROP_KEEPS), rng.uniform(*CROP_KEEPS)
    crop_w, crop_h = round(width * keep_w), round(height * keep_h)
    left, top = rng.randint(0, width - crop_w), rng.randint(0, height - crop_h)
    picture = photo.crop((left, top, left + crop_w, top + crop_h))
    if rng.random() < 0.5:
        picture = ImageOps.mirror(picture)
    picture = ImageEnhance.Brightness(picture).enhance(rng.uniform(*BRIGHTNESS))
    scale = IMAGE_SIDE / max(picture.size)
    return picture.resize(
        (round(picture.width * scale), round(picture.height * scale)), Image.Resampling.BILINEAR
    )


def _jpeg(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def house_style(
    predicted: list[dict[str, Any]], width: int, height: int, rng: random.Random
) -> list[dict[str, Any]]:
    """The reference labelling from the shipped model's keypoints: offset, noise, kept in the picture."""
    reference = []
    for point in predicted:
        dx, dy = HOUSE_STYLE_PX.get(point["id"], (0.0, 0.0))
        x = min(max(point["x"] + dx + rng.gauss(0.0, NOISE_PX), 0.0), float(width - 1))
        y = min(max(point["y"] + dy + rng.gauss(0.0, NOISE_PX), 0.0), float(height - 1))
        reference.append(
            {"id": point["id"], "name": point.get("name"), "x": round(x, 2), "y": round(y, 2),
             "visible": max(int(point["visible"]), int(Visibility.OCCLUDED))}
        )  # fmt: skip
    return reference


class ReferenceModel:
    """yolo11n-pose as shipped, at its full input size, through the engine the pipeline runs."""

    def __init__(self, visibility_threshold: float) -> None:
        from cradle_inference.engine import PoseEngine  # noqa: PLC0415 - torch only here
        from cradlepose.domain.inference import ModelSpec  # noqa: PLC0415

        self._engine = PoseEngine(ModelSpec(visibility_threshold=visibility_threshold), device="cpu")

    def keypoints(self, name: str, jpeg: bytes) -> list[dict[str, Any]] | None:
        """The chosen person's keypoints (as the pipeline stores them), or None when nobody is found."""
        (result,) = self._engine.predict([(0, name, jpeg)])
        person = result.chosen
        if not result.ok or person is None:
            return None
        return [k.model_dump(mode="json") for k in person.keypoints]


def pictures(count: int, seed: int, first_index: int, model: ReferenceModel) -> list[Picture]:
    """`count` pictures, the photographs in turn, numbered from `first_index`; the same for a seed."""
    photos = _photographs()
    names = sorted(photos)
    made = []
    for index in range(first_index, first_index + count):
        source = names[index % len(names)]
        rng = random.Random(f"{seed}:{index}")  # noqa: S311 - a reproducible experiment, not a secret
        made.append(_picture(source, photos[source], index, rng, model))
    return made


def _picture(
    source: str, photo: Image.Image, index: int, rng: random.Random, model: ReferenceModel
) -> Picture:
    filename = f"{Path(source).stem}-{index:03d}.jpg"
    for _ in range(MAX_DRAWS):
        variant = _variant(photo, rng)
        jpeg = _jpeg(variant)
        predicted = model.keypoints(filename, jpeg)
        if predicted is not None:
            reference = house_style(predicted, variant.width, variant.height, rng)
            return Picture(filename, SUBJECTS[source], jpeg, variant.width, variant.height, reference)
    raise RuntimeError(f"no person found in {MAX_DRAWS} variants of {source} for picture {index}")
