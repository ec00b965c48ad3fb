"""The KeypointSchema definition validator: every bad field is named, every good one accepted."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cradlepose.domain.errors import ValidationFailed
from cradlepose.domain.keypoint_schema import (
    COCO17_NAMES,
    COCO17_SIGMAS,
    SchemaDefinition,
    infant_pose_17,
    parse_definition,
    parse_spec,
)

pytestmark = pytest.mark.unit


def _kp(id_: int, name: str, color: str = "#FF0000", **extra: Any) -> dict[str, Any]:
    return {"id": id_, "name": name, "color": color, **extra}


def _locations(error: ValidationFailed) -> set[str]:
    return {p.location for p in error.problems}


def test_default_schema_is_coco17_with_seed_body_parts() -> None:
    spec = infant_pose_17()
    definition = spec.schema_definition
    assert [k.name for k in definition.keypoints] == list(COCO17_NAMES)
    assert definition.total_keypoints == 17
    assert len(definition.connections) == 19
    assert definition.body_parts["torso"] == [5, 6, 11, 12]
    assert definition.body_parts["legs"] == [11, 13, 15, 12, 14, 16]
    assert definition.sigmas() == list(COCO17_SIGMAS)
    assert set(spec.effective_required) == {0, 5, 6, 11, 12}


def test_flip_index_pairs_left_and_right() -> None:
    flip = infant_pose_17().schema_definition.flip_index()
    # ultralytics' flip_idx for COCO pose
    assert flip == [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]


def test_seed_example_is_rejected_for_dangling_body_parts() -> None:
    # The seed's own example lists body parts with ids (7, 9, 11, …) that its keypoints lack.
    seed_example = {
        "keypoints": [
            _kp(0, "nose"),
            _kp(1, "left_eye"),
            _kp(2, "right_eye"),
            _kp(5, "left_shoulder"),
            _kp(6, "right_shoulder"),
        ],
        "connections": [[0, 1], [0, 2], [5, 6]],
        "body_parts": {"head": [0, 1, 2], "torso": [5, 6, 11, 12]},
    }
    with pytest.raises(ValidationFailed) as info:
        parse_definition(seed_example)
    assert _locations(info.value) == {
        "schema_definition.body_parts.torso[2]",
        "schema_definition.body_parts.torso[3]",
    }
    assert "keypoint id 11 does not exist" in info.value.detail


@pytest.mark.parametrize(
    ("definition", "location", "message"),
    [
        ({"keypoints": []}, "schema_definition.keypoints", "at least 1"),
        ({"keypoints": [_kp(0, "a"), _kp(0, "b")]}, "schema_definition.keypoints[1].id", "more than once"),
        ({"keypoints": [_kp(0, "a"), _kp(1, "a")]}, "schema_definition.keypoints[1].name", "more than once"),
        ({"keypoints": [_kp(0, "a", color="red")]}, "schema_definition.keypoints[0].color", "pattern"),
        ({"keypoints": [_kp(0, "a", color="#12345")]}, "schema_definition.keypoints[0].color", "pattern"),
        ({"keypoints": [_kp(0, "Nose")]}, "schema_definition.keypoints[0].name", "pattern"),
        ({"keypoints": [_kp(-1, "a")]}, "schema_definition.keypoints[0].id", "greater than or equal"),
        (
            {"keypoints": [_kp(0, "a")], "connections": [[0, 3]]},
            "schema_definition.connections[0][1]",
            "3 does not exist",
        ),
        ({"keypoints": [_kp(0, "a")], "connections": [[0, 0]]}, "schema_definition.connections[0]", "itself"),
        (
            {"keypoints": [_kp(0, "a"), _kp(1, "b")], "connections": [[0, 1], [1, 0]]},
            "schema_definition.connections[1]",
            "listed twice",
        ),
        (
            {"keypoints": [_kp(0, "a")], "body_parts": {"arm": []}},
            "schema_definition.body_parts.arm",
            "at least one",
        ),
        ({"keypoints": [_kp(0, "a", sigma=0)]}, "schema_definition.keypoints[0].sigma", "greater than 0"),
        ({"keypoints": [_kp(0, "a")], "extra": 1}, "schema_definition.extra", "not permitted"),
    ],
)
def test_each_bad_definition_names_its_field(definition: dict[str, Any], location: str, message: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_definition(definition)
    matching = [p for p in info.value.problems if p.location == location]
    assert matching, f"no problem at {location}: {info.value.problems}"
    assert message in matching[0].message


def test_spec_checks_total_and_required_against_the_definition() -> None:
    definition = {"keypoints": [_kp(0, "a"), _kp(1, "b")]}
    with pytest.raises(ValidationFailed) as info:
        parse_spec(
            {
                "name": "tiny",
                "version": "v1.0",
                "schema_definition": definition,
                "total_keypoints": 3,
                "required_keypoints": [0, 7],
                "max_missing_keypoints": 5,
            }
        )
    assert _locations(info.value) == {"total_keypoints", "required_keypoints[1]", "max_missing_keypoints"}


def test_colours_are_normalised_to_upper_case() -> None:
    definition = parse_definition({"keypoints": [_kp(0, "a", color="#abcdef")]})
    assert definition.keypoints[0].color == "#ABCDEF"


# --------------------------------------------------------------------------- properties

names = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
colours = st.from_regex(r"#[0-9A-F]{6}", fullmatch=True)


@st.composite
def valid_definitions(draw: st.DrawFn) -> dict[str, Any]:
    ids = draw(st.lists(st.integers(0, 200), min_size=1, max_size=25, unique=True))
    kp_names = draw(st.lists(names, min_size=len(ids), max_size=len(ids), unique=True))
    keypoints = [
        _kp(i, n, draw(colours), required=draw(st.booleans())) for i, n in zip(ids, kp_names, strict=True)
    ]
    pairs = []
    if len(ids) > 1:
        candidates = st.tuples(st.sampled_from(ids), st.sampled_from(ids)).filter(lambda p: p[0] != p[1])
        raw = draw(st.lists(candidates, max_size=30))
        seen: set[frozenset[int]] = set()
        for a, b in raw:
            if frozenset((a, b)) not in seen:
                seen.add(frozenset((a, b)))
                pairs.append([a, b])
    parts = draw(st.dictionaries(names, st.lists(st.sampled_from(ids), min_size=1, max_size=5), max_size=4))
    return {"keypoints": keypoints, "connections": pairs, "body_parts": parts}


@given(valid_definitions())
def test_every_consistent_definition_is_accepted_and_round_trips(data: dict[str, Any]) -> None:
    definition = parse_definition(data)
    assert definition.total_keypoints == len(data["keypoints"])
    again = SchemaDefinition.model_validate(definition.model_dump(mode="json"))
    assert again == definition


@given(valid_definitions(), st.integers(201, 10_000))
def test_any_reference_to_a_missing_id_is_refused_and_located(data: dict[str, Any], missing: int) -> None:
    data = {**data, "connections": [*data["connections"], [data["keypoints"][0]["id"], missing]]}
    with pytest.raises(ValidationFailed) as info:
        parse_definition(data)
    index = len(data["connections"]) - 1
    assert f"schema_definition.connections[{index}][1]" in _locations(info.value)


@given(valid_definitions())
def test_flip_index_is_an_involution(data: dict[str, Any]) -> None:
    flip = parse_definition(data).flip_index()
    assert all(flip[flip[i]] == i for i in range(len(flip)))
