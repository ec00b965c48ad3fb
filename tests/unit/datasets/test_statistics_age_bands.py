"""A dataset's ages in bands: every image lands in exactly one band (or among the unknown)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cradlepose.datasets.catalogue import AGE_BAND_CODES, age_band_bounds
from cradlepose.datasets.statistics import AGE_BANDS, band_ages

pytestmark = pytest.mark.unit


def test_bands_are_half_open_and_the_last_is_open_ended() -> None:
    bands, unknown = band_ages(
        [(Decimal("0"), 1), (Decimal("0.99"), 2), (1, 3), (Decimal("2.5"), 1), (30, 4), (None, 5)]
    )
    assert [(b.band, b.images) for b in bands] == [("0–1", 3), ("1–2", 3), ("2–3", 1), ("24+", 4)]
    assert unknown == 5


@given(
    st.lists(st.tuples(st.one_of(st.none(), st.decimals(0, 240, places=2)), st.integers(1, 50)), max_size=40)
)
def test_every_image_is_counted_once(counted: list[tuple[Decimal | None, int]]) -> None:
    bands, unknown = band_ages(counted)
    assert sum(b.images for b in bands) + unknown == sum(n for _, n in counted)
    assert all(b.images > 0 for b in bands)
    order = [b.band.split("–")[0].rstrip("+") for b in bands]
    assert [int(x) for x in order] == sorted(int(x) for x in order)
    assert {int(x) for x in order} <= set(AGE_BANDS)


def test_the_catalogues_age_band_codes_are_the_charts_bands() -> None:
    """GET /datasets?age_band=… names the very bands the dataset page's age chart draws."""
    labels = [b.band for b in band_ages([(low, 1) for low in AGE_BANDS])[0]]
    assert [code.replace("-", "–") for code in AGE_BAND_CODES] == labels
    assert [age_band_bounds(code) for code in ("0-1", "4-6", "24+")] == [(0, 1), (4, 6), (24, None)]
