"""domain/quality.py rule by rule: each threshold on both sides of its boundary, each penalty alone.

The numbers are the module docstring's (the seed's 1-10 scale): blur < 50 (-4), slight blur < 150
(-2), dark mean < 50 or > 25 % clipped shadows (-2), bright mean > 205 or > 25 % clipped highlights
(-2), shorter side < 480 (-3), < 720 (-1), never below 1. A flawless image scores 10.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from cradlepose.domain.quality import ImageMeasurements, assess

pytestmark = pytest.mark.unit

# Sharp, mid-grey, nothing clipped, 1280 x 720: no penalty at all.
GOOD = {
    "width": 1280,
    "height": 720,
    "sharpness": 500.0,
    "brightness": 128.0,
    "dark_fraction": 0.0,
    "bright_fraction": 0.0,
}


def scored(**changes: float) -> tuple[Decimal, list[str]]:
    result = assess(ImageMeasurements(**{**GOOD, **changes}))  # type: ignore[arg-type]
    return result.score, result.issues


def test_a_flawless_image_scores_ten_with_no_issue() -> None:
    result = assess(ImageMeasurements(**GOOD))  # type: ignore[arg-type]
    assert result.score == Decimal("10.0")
    assert str(result.score) == "10.0"
    assert result.issues == []
    assert result.has_issues is False


@pytest.mark.parametrize(
    ("changes", "score", "issues"),
    [
        # blur: strictly below 50 is severe, exactly 50 is only slight
        ({"sharpness": 49.99}, "6.0", ["blur"]),
        ({"sharpness": 50.0}, "8.0", ["slight_blur"]),
        ({"sharpness": 149.99}, "8.0", ["slight_blur"]),
        ({"sharpness": 150.0}, "10.0", []),
        # dark: mean strictly below 50, or strictly more than 25 % clipped shadows
        ({"brightness": 49.99}, "8.0", ["underexposed"]),
        ({"brightness": 50.0}, "10.0", []),
        ({"dark_fraction": 0.2501}, "8.0", ["underexposed"]),
        ({"dark_fraction": 0.25}, "10.0", []),
        # bright: mean strictly above 205, or strictly more than 25 % clipped highlights
        ({"brightness": 205.01}, "8.0", ["overexposed"]),
        ({"brightness": 205.0}, "10.0", []),
        ({"bright_fraction": 0.2501}, "8.0", ["overexposed"]),
        ({"bright_fraction": 0.25}, "10.0", []),
        # resolution: the shorter side, strictly below 480 / 720
        ({"height": 479}, "7.0", ["low_resolution"]),
        ({"height": 480}, "9.0", ["modest_resolution"]),
        ({"width": 479, "height": 2000}, "7.0", ["low_resolution"]),
        ({"height": 719}, "9.0", ["modest_resolution"]),
        ({"height": 720}, "10.0", []),
    ],
)
def test_each_threshold_on_both_sides(changes: dict[str, float], score: str, issues: list[str]) -> None:
    assert scored(**changes) == (Decimal(score), issues)


def test_each_exposure_condition_alone_is_enough() -> None:
    # A normal mean with clipped shadows AND a dark mean with no clipping: both underexposed.
    assert scored(brightness=128.0, dark_fraction=0.3)[1] == ["underexposed"]
    assert scored(brightness=20.0, dark_fraction=0.0)[1] == ["underexposed"]
    assert scored(brightness=128.0, bright_fraction=0.3)[1] == ["overexposed"]
    assert scored(brightness=240.0, bright_fraction=0.0)[1] == ["overexposed"]


def test_penalties_add_up_and_the_score_never_goes_below_one() -> None:
    # blur 4 + under 2 + over 2 + low resolution 3 = 11 > 9: clamped at 1
    score, issues = scored(sharpness=1.0, dark_fraction=0.5, bright_fraction=0.5, width=100, height=100)
    assert score == Decimal("1.0")
    assert issues == ["blur", "underexposed", "overexposed", "low_resolution"]
    # blur 4 + low resolution 3 = 7: 3 left
    assert scored(sharpness=1.0, height=100) == (Decimal("3.0"), ["blur", "low_resolution"])
    # slight blur 2 + modest resolution 1 + under 2 = 5: 5 left
    assert scored(sharpness=100.0, height=600, brightness=10.0) == (
        Decimal("5.0"),
        ["slight_blur", "underexposed", "modest_resolution"],
    )
