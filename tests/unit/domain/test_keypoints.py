"""The annotation keypoint payload, validated against a schema and an image size."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cradlepose.domain.enums import Visibility
from cradlepose.domain.errors import ValidationFailed
from cradlepose.domain.keypoint_schema import infant_pose_17
from cradlepose.domain.keypoints import completeness_problems, validate_keypoints

pytestmark = pytest.mark.unit

SCHEMA = infant_pose_17().schema_definition
W, H = 640, 480


def _all_visible() -> list[dict[str, Any]]:
    return [{"id": i, "x": 10.0 + i, "y": 20.0 + i, "confidence": 0.9, "visible": 2} for i in range(17)]


def _problems(data: Any, width: int = W, height: int = H) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as info:
        validate_keypoints(data, SCHEMA, width, height)
    return {p.location: p.message for p in info.value.problems}


def test_seed_example_shape_is_accepted_and_names_are_filled_in() -> None:
    data = {
        "keypoints": [
            {"id": 0, "name": "nose", "x": 245.5, "y": 123.2, "confidence": 0.95, "visible": 1},
            {"id": 1, "x": 235.1, "y": 118.7, "confidence": 0.88, "visible": 1},
        ],
        "modifications_from_yolo": {"total_moved": 12, "major_changes": [0, 5, 6], "avg_displacement": 15.3},
    }
    result = validate_keypoints(data, SCHEMA, W, H)
    assert [k.name for k in result.keypoints] == ["nose", "left_eye"]
    assert result.keypoints[0].visible is Visibility.OCCLUDED
    assert result.modifications_from_yolo is not None
    assert result.modifications_from_yolo.major_changes == [0, 5, 6]


def test_keypoints_come_back_in_schema_order() -> None:
    data = {"keypoints": list(reversed(_all_visible()))}
    result = validate_keypoints(data, SCHEMA, W, H)
    assert [k.id for k in result.keypoints] == list(range(17))


@pytest.mark.parametrize(
    ("keypoint", "location", "fragment"),
    [
        ({"id": 99, "x": 1, "y": 1}, "keypoints[0].id", "not in the schema"),
        ({"id": 0, "name": "left_eye", "x": 1, "y": 1}, "keypoints[0].name", "'nose' in the schema"),
        ({"id": 0, "x": 641, "y": 1}, "keypoints[0].x", "outside the image"),
        ({"id": 0, "x": 1, "y": -0.5}, "keypoints[0].y", "outside the image"),
        ({"id": 0, "x": float("nan"), "y": 1}, "keypoints[0].x", "finite"),
        ({"id": 0, "x": float("inf"), "y": 1}, "keypoints[0].x", "finite"),
        ({"id": 0, "x": 1, "y": 1, "visible": 3}, "keypoints[0].visible", "Input should be 0, 1 or 2"),
        ({"id": 0, "x": 1, "y": 1, "confidence": 1.01}, "keypoints[0].confidence", "less than or equal to 1"),
        (
            {"id": 0, "x": 1, "y": 1, "confidence": -0.1},
            "keypoints[0].confidence",
            "greater than or equal to 0",
        ),
        ({"id": 0, "x": "left", "y": 1}, "keypoints[0].x", "valid number"),
    ],
)
def test_each_bad_keypoint_names_its_field(keypoint: dict[str, Any], location: str, fragment: str) -> None:
    problems = _problems({"keypoints": [keypoint]})
    assert location in problems, problems
    assert fragment in problems[location]


def test_duplicate_ids_are_refused() -> None:
    problems = _problems({"keypoints": [{"id": 3, "x": 1, "y": 1}, {"id": 3, "x": 2, "y": 2}]})
    assert "appears more than once" in problems["keypoints[1].id"]


def test_absent_keypoints_may_sit_at_the_origin_or_anywhere() -> None:
    data = {
        "keypoints": [{"id": 0, "x": 0, "y": 0, "visible": 0}, {"id": 1, "x": 9999, "y": -1, "visible": 0}]
    }
    assert len(validate_keypoints(data, SCHEMA, W, H).keypoints) == 2


def test_problems_inside_a_larger_body_carry_its_prefix() -> None:
    with pytest.raises(ValidationFailed) as info:
        validate_keypoints(
            {"keypoints": [{"id": 0, "x": 1e6, "y": 1}]}, SCHEMA, W, H, within="corrected_keypoints"
        )
    assert info.value.problems[0].location == "corrected_keypoints.keypoints[0].x"


def test_completeness_requires_the_required_and_limits_the_missing() -> None:
    keypoints = _all_visible()
    for k in keypoints:
        if k["id"] in (0, 13, 14, 15, 16):  # nose (required) and four leg keypoints absent
            k["visible"] = 0
    kp_set = validate_keypoints({"keypoints": keypoints}, SCHEMA, W, H)
    problems = completeness_problems(kp_set, SCHEMA, required_ids=[0, 5, 6], max_missing=3)
    messages = [p.message for p in problems]
    assert any("required keypoint nose" in m for m in messages)
    assert any("5 keypoints are missing" in m for m in messages)


def test_complete_payload_has_no_completeness_problems() -> None:
    kp_set = validate_keypoints({"keypoints": _all_visible()}, SCHEMA, W, H)
    assert completeness_problems(kp_set, SCHEMA, required_ids=[0, 5, 6], max_missing=0) == []


@given(
    st.lists(
        st.tuples(
            st.integers(0, 16),
            st.floats(allow_nan=True, allow_infinity=True),
            st.floats(),
            st.integers(-1, 3),
        ),
        max_size=20,
    ),
    st.integers(1, 4000),
    st.integers(1, 4000),
)
def test_validator_accepts_exactly_the_valid_payloads(
    raw: list[tuple[int, float, float, int]], width: int, height: int
) -> None:
    data = {"keypoints": [{"id": i, "x": x, "y": y, "visible": v} for i, x, y, v in raw]}
    ids = [i for i, *_ in raw]

    def fine(x: float, y: float, v: int) -> bool:
        if v not in (0, 1, 2) or not (math.isfinite(x) and math.isfinite(y)):
            return False
        return v == 0 or (0 <= x <= width and 0 <= y <= height)

    expected_ok = len(set(ids)) == len(ids) and all(fine(x, y, v) for _, x, y, v in raw)
    try:
        result = validate_keypoints(data, SCHEMA, width, height)
    except ValidationFailed as error:
        assert not expected_ok, error.problems
        assert all(p.location.startswith("keypoints") for p in error.problems)
    else:
        assert expected_ok
        assert sorted(k.id for k in result.keypoints) == sorted(ids)
