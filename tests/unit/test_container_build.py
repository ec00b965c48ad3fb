"""The inference image builds as documented: every COPY source is in the build context it names.

Docker is not needed: the Dockerfile is parsed, every documented `docker build` is checked to use
the repository root as its context with this Dockerfile, and every COPY/ADD source must exist
there and survive the `.dockerignore` in force (BuildKit reads `<Dockerfile>.dockerignore` next to
the Dockerfile before the context's own `.dockerignore`).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = Path("containers/inference/Dockerfile")
# Where the build is documented: each `docker build` there must be the one that works (and the
# Makefile's targets, as `make -n` prints them, run it).
DOCUMENTED = (DOCKERFILE, Path("containers/inference/README.md"), Path("docs/deploy.md"))
MAKE_TARGETS = ("image", "deploy")


def make_dry_run(*arguments: str) -> str:
    """What `make -n …` would run (nothing runs; the recipes are printed)."""
    if shutil.which("make") is None:
        pytest.skip("no make here")
    command = ["make", "-n", "--no-print-directory", *arguments, "IMAGE_TAG=abc1234"]
    return subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    kept = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(kept))
    found = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def _copy_sources(text: str) -> list[str]:
    sources: list[str] = []
    for keyword, rest in _instructions(text):
        if keyword not in ("COPY", "ADD"):
            continue
        words = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
        flags = [w for w in words if w.startswith("--")]
        if any(f.startswith("--from=") for f in flags):
            continue  # from another stage or image, not the context
        sources += [w for w in words if not w.startswith("--")][:-1]
    return sources


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go filepath.Match plus `**`) as a regular expression."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def _ignore_rules(text: str) -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.removeprefix("!").strip().strip("/")
        rules.append((negated, _pattern_regex(pattern)))
    return rules


def _excluded(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for negated, regex in rules:
        if any(regex.fullmatch(candidate) for candidate in candidates):
            excluded = not negated
    return excluded


def _ignore_file() -> Path:
    specific = ROOT / f"{DOCKERFILE}.dockerignore"
    return specific if specific.exists() else ROOT / ".dockerignore"


def _commands_of(path: Path) -> str:
    """The commands a document shows: a Markdown file's code blocks, a Dockerfile's comments."""
    text = path.read_text()
    if path.suffix == ".md":
        return "\n".join(text.split("```")[1::2])
    return "\n".join(line.lstrip("# ") for line in text.splitlines() if line.startswith("#"))


def _documented_builds() -> list[tuple[str, list[str]]]:
    texts = {str(doc): _commands_of(ROOT / doc) for doc in DOCUMENTED}
    texts |= {f"make {target}": make_dry_run(target, "STAGE=prod") for target in MAKE_TARGETS}
    builds = []
    for doc, text in texts.items():
        for line in text.replace("\\\n", " ").splitlines():
            if "docker build" in line:
                command = re.split(r"&&|;|#", line[line.index("docker build") :])[0]
                builds.append((doc, shlex.split(command, posix=True)))
    return builds


def test_every_documented_build_uses_this_dockerfile_with_the_repository_root_as_context() -> None:
    builds = _documented_builds()
    documented = {str(doc) for doc in DOCUMENTED} | {f"make {target}" for target in MAKE_TARGETS}
    assert {doc for doc, _ in builds} == documented, "a place that documents the build lost it"
    for doc, words in builds:
        args = words[2:]
        positional, skip = [], False
        for word in args:
            if skip:
                skip = False
            elif word in ("-f", "--file", "-t", "--tag", "--platform", "--build-arg"):
                skip = True
            elif not word.startswith("-"):
                positional.append(word)
        assert positional == ["."], f"{doc}: {' '.join(words)} (the context must be the repository root)"
        dockerfile = args[args.index("-f") + 1] if "-f" in args else args[args.index("--file") + 1]
        assert dockerfile == str(DOCKERFILE), f"{doc}: {' '.join(words)}"


def test_every_copy_source_exists_in_the_context_and_is_not_ignored() -> None:
    rules = _ignore_rules(_ignore_file().read_text())
    sources = _copy_sources((ROOT / DOCKERFILE).read_text())
    assert "layers/core/python" in sources
    assert "requirements/constraints.txt" in sources
    for source in sources:
        matches = sorted(ROOT.glob(source)) if any(c in source for c in "*?[") else [ROOT / source]
        assert matches, f"COPY {source}: not in the context"
        assert all(m.exists() for m in matches), f"COPY {source}: not in the context"
        files = [f for m in matches for f in ([m] if m.is_file() else m.rglob("*")) if f.is_file()]
        sent = [f for f in files if not _excluded(f.relative_to(ROOT).as_posix(), rules)]
        assert sent, f"COPY {source}: everything under it is excluded by {_ignore_file().name}"
        if len(matches) == 1 and matches[0].is_file():
            assert sent == files, f"COPY {source}: excluded by {_ignore_file().name}"
    # The package the image installs arrives whole: its code and the files setuptools reads.
    for needed in ("layers/core/python/cradlepose/__init__.py", "layers/core/python/cradlepose/domain/inference.py",
                   "containers/inference/cradle_inference/__main__.py", "pyproject.toml", "README.md"):  # fmt: skip
        assert not _excluded(needed, rules), f"{needed} is excluded from the build context"


def test_the_ignore_matcher_follows_dockers_rules() -> None:
    rules = _ignore_rules("*\n!keep/**\n**/__pycache__\n")
    assert _excluded("other.txt", rules)
    assert not _excluded("keep/a/b.py", rules)
    assert _excluded("keep/a/__pycache__/b.pyc", rules)


def test_make_deploy_pushes_the_image_and_deploys_its_digest_in_order() -> None:
    # When `make deploy` runs for prod (printed, not run)
    recipe = make_dry_run("deploy", "STAGE=prod", "ALARM_EMAIL=ops@example.org")

    # Then it deploys the repository, builds, pushes, reads the digest, and deploys the stage with it
    steps = [
        "deploy Cradle-prod-images -c stage=prod -c images_only=true",
        "docker login",
        "docker build --platform linux/amd64 -f containers/inference/Dockerfile",
        'docker push "$repository:abc1234"',
        "aws ecr describe-images",
        "--image-ids imageTag=abc1234 --query 'imageDetails[0].imageDigest'",
        'deploy Cradle-prod -c stage=prod -c inference_image_digest="$digest"',
        "-c alarm_email=ops@example.org",
    ]
    positions = [recipe.find(step) for step in steps]
    assert -1 not in positions, [s for s, p in zip(steps, positions, strict=True) if p == -1]
    assert positions == sorted(positions)
    assert "inference_image_tag" not in recipe
    assert ":latest" not in recipe
