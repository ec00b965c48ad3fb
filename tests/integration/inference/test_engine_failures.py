"""A file that is not a decodable image fails alone, with a reason; its neighbours succeed."""

from __future__ import annotations

import numpy as np
import pytest

from cradle_inference.engine import PoseEngine

pytestmark = pytest.mark.integration


def test_broken_files_fail_alone(
    pose_engine: PoseEngine, sample_bytes: dict[str, bytes], corrupt_jpeg: bytes, pdf_named_jpg: bytes
) -> None:
    items = [
        (1, "bus.jpg", sample_bytes["bus.jpg"]),
        (2, "corrupt.jpg", corrupt_jpeg),
        (3, "zidane.jpg", sample_bytes["zidane.jpg"]),
        (4, "report.jpg", pdf_named_jpg),
        (5, "truncated.jpg", sample_bytes["zidane.jpg"][: len(sample_bytes["zidane.jpg"]) // 2]),
        (6, "empty.jpg", b""),
        (7, "bus-again.jpg", sample_bytes["bus.jpg"]),
    ]

    results = list(pose_engine.predict(items))

    assert [r.image_id for r in results] == [1, 2, 3, 4, 5, 6, 7]
    assert [r.ok for r in results] == [True, False, True, False, False, False, True]
    by_id = {r.image_id: r for r in results}
    assert "corrupt JPEG: corrupt compressed data" in (by_id[2].error or "")
    assert "not an image: the content is a PDF document" in (by_id[4].error or "")
    assert "corrupt JPEG: truncated" in (by_id[5].error or "")
    assert "empty file" in (by_id[6].error or "")
    for failed in (by_id[i] for i in (2, 4, 5, 6)):
        assert failed.persons == []
        assert failed.best_person is None
        assert failed.yolo_confidence is None
        assert failed.width is None
    # The good images are untouched by their broken neighbours.
    assert len(by_id[1].persons) == len(by_id[7].persons) > 0
    first, again = by_id[1].persons, by_id[7].persons
    assert np.allclose([p.box for p in first], [p.box for p in again], atol=0.05)


def test_an_empty_stream_gives_no_results(pose_engine: PoseEngine) -> None:
    assert list(pose_engine.predict([])) == []
