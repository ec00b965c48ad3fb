"""Every function of the table has its handler in its code folder."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import pytest

from cradlepose import function_table

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def test_every_handler_module_exists_in_its_code_folder() -> None:
    for spec in function_table.load().functions:
        module_path = ROOT / spec.code / (spec.module.replace(".", "/") + ".py")
        assert module_path.exists(), f"{spec.name}: {module_path} is missing"
        assert importlib.util.find_spec(spec.module) is not None


def test_every_handler_is_a_function_of_its_module() -> None:
    for spec in function_table.load().functions:
        module = importlib.import_module(spec.module)
        assert callable(getattr(module, spec.function, None)), f"{spec.name}: {spec.handler} is not callable"
