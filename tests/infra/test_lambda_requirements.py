"""requirements/lambda.txt (the dependency layer) pins what pyproject needs, at the tested versions."""

from __future__ import annotations

import re
import tomllib

import pytest

from tests.infra.support import ROOT

pytestmark = pytest.mark.infra


def _pins(path: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / path).read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_the_layer_pins_every_runtime_dependency_at_its_constraint() -> None:
    layer = _pins("requirements/lambda.txt")
    constraints = _pins("requirements/constraints.txt")
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for requirement in dependencies:
        name = re.sub(r"[-_.]+", "-", re.split(r"[\[<>=!~ ]", requirement, maxsplit=1)[0]).lower()
        assert name in layer, f"{name} missing from requirements/lambda.txt: make lambda-requirements"
    for name, version in layer.items():
        assert constraints.get(name) == version, f"{name}=={version} differs from constraints.txt"
