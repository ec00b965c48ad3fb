"""The two Lambda layers: Cradle's own package and its third-party runtime dependencies.

`layers/core` already has `python/cradlepose/` at its root, so it ships as it is (no build, no
Docker). The dependency layer is built by `pip install --platform` into the asset folder (no Docker
either): binary wheels only, for the Lambda platform in `infra.config`, exactly the pins of
`requirements/lambda.txt`. Tests and `make synth` skip bundling (context `aws:cdk:bundling-stacks`
set to []), so they need no network.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import LAMBDA_ARCHITECTURE, LAMBDA_PYTHON_VERSION, LAMBDA_RUNTIME, PIP_PLATFORM, ROOT

REQUIREMENTS = ROOT / "requirements" / "lambda.txt"
ASSET_EXCLUDES = ["**/__pycache__", "**/*.pyc", "**/.mypy_cache", "**/.pytest_cache", "**/README.md"]
# Wheels tagged for older glibc run on Amazon Linux 2023 too; pip wants them spelled out.
PLATFORMS = (PIP_PLATFORM, "manylinux2014_x86_64")


def pip_command(target: Path) -> list[str]:
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--only-binary=:all:"]
    for platform in PLATFORMS:
        command += ["--platform", platform]
    command += ["--python-version", LAMBDA_PYTHON_VERSION, "--implementation", "cp"]
    return [*command, "--target", str(target), "--requirement", str(REQUIREMENTS)]


@jsii.implements(ILocalBundling)
class PipInstall:
    """Local bundling for the dependency layer: pip, for the Lambda platform, into `python/`."""

    def try_bundle(self, output_dir: str, options: Any) -> bool:
        target = Path(output_dir) / "python"
        subprocess.run(pip_command(target), check=True)  # noqa: S603 - a fixed command line
        for cache in target.rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)
        return True


def requirements_hash() -> str:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes())
    digest.update(f"{PLATFORMS}{LAMBDA_PYTHON_VERSION}".encode())
    return digest.hexdigest()


class Layers(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        common: dict[str, Any] = {
            "compatible_runtimes": [LAMBDA_RUNTIME],
            "compatible_architectures": [LAMBDA_ARCHITECTURE],
        }
        self.core = lambda_.LayerVersion(
            self,
            "Core",
            code=lambda_.Code.from_asset(str(ROOT / "layers" / "core"), exclude=ASSET_EXCLUDES),
            description="cradlepose: domain, persistence, capabilities",
            **common,
        )
        self.dependencies = lambda_.LayerVersion(
            self,
            "Dependencies",
            code=lambda_.Code.from_asset(
                str(REQUIREMENTS.parent),
                asset_hash_type=AssetHashType.CUSTOM,
                asset_hash=requirements_hash(),
                bundling=BundlingOptions(
                    # Used only if local bundling were unavailable; it never is (pip is always here).
                    image=DockerImage.from_registry(
                        f"public.ecr.aws/sam/build-python{LAMBDA_PYTHON_VERSION}"
                    ),
                    command=["bash", "-c", "pip install -r lambda.txt --target /asset-output/python"],
                    local=cast(ILocalBundling, PipInstall()),  # jsii.implements is invisible to mypy
                ),
            ),
            description="third-party runtime dependencies (requirements/lambda.txt)",
            **common,
        )


def function_code() -> lambda_.Code:
    """The `functions/` folder as it is: handlers are `api.handler.lambda_handler` and so on."""
    return lambda_.Code.from_asset(str(ROOT / "functions"), exclude=[*ASSET_EXCLUDES, "**/tests"])
