"""The demo's pictures: photographs that ship inside installed packages, nothing downloaded.

Ultralytics ships two photographs of people (bus.jpg, zidane.jpg) and scikit-image two more
(the astronaut, the cameraman). No photograph of a real infant belongs in a repository; the
demo shows the workflow on these. One file is deliberately not an image, to show how an upload
the trigger refuses is reported.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

NOT_AN_IMAGE = "scan-notes.jpg"


def _package_dir(name: str) -> Path:
    """Where a package is installed, found without importing it (ultralytics would load torch)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the demo needs the {name!r} package (make demo installs it)")
    return Path(next(iter(spec.submodule_search_locations)))


def sample_paths() -> dict[str, Path]:
    ultralytics, skimage = _package_dir("ultralytics") / "assets", _package_dir("skimage") / "data"
    return {
        "bus.jpg": ultralytics / "bus.jpg",
        "zidane.jpg": ultralytics / "zidane.jpg",
        "astronaut.png": skimage / "astronaut.png",
        "cameraman.png": skimage / "camera.png",
    }


def write_upload_folder(folder: Path) -> list[str]:
    """The batch to upload: the photographs and one file that only claims to be a JPEG."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in sample_paths().items():
        shutil.copyfile(source, folder / name)
    (folder / NOT_AN_IMAGE).write_text("Ward round notes, not a photograph.\n")
    return sorted(p.name for p in folder.iterdir() if p.is_file())
