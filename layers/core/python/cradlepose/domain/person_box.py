"""The box and the area of the one infant an image is about, both derived from its keypoints.

Cradle annotates keypoints, not boxes, so exports derive both:
- the *box* (COCO `bbox`, the YOLO label's box) is the tight box around the labelled keypoints
  widened by BOX_MARGIN of its size on every side (keypoints sit inside the body: the crown of
  the head and the feet lie beyond them), and clipped to the image;
- the *area* (COCO `area`, the s² of OKS) is the tight box's area, the same scale Cradle's own
  OKS has always used (domain.keypoint_math.area_of), so that OKS, accuracy, evaluation and the
  sigma calibration all measure distance against one and the same scale.
"""

from __future__ import annotations

from collections.abc import Sequence

from cradlepose.domain.keypoint_math import area_of, box_of
from cradlepose.domain.keypoints import Keypoint

BOX_MARGIN = 0.1
MIN_MARGIN_PX = 4.0

Box = tuple[float, float, float, float]  # x, y, width, height in pixels


def person_box(keypoints: Sequence[Keypoint], width: int, height: int) -> Box | None:
    """The padded, clipped box around the labelled keypoints; None when none is labelled."""
    tight = box_of(keypoints)
    if tight is None:
        return None
    x, y, w, h = tight
    pad_x = max(MIN_MARGIN_PX, BOX_MARGIN * w)
    pad_y = max(MIN_MARGIN_PX, BOX_MARGIN * h)
    left, top = max(0.0, x - pad_x), max(0.0, y - pad_y)
    right, bottom = min(float(width), x + w + pad_x), min(float(height), y + h + pad_y)
    return left, top, right - left, bottom - top


def object_area(keypoints: Sequence[Keypoint]) -> float:
    """The s² of OKS: the area of the tight box around the labelled keypoints."""
    return area_of(keypoints)
