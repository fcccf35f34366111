"""Check what the built sdist and wheel hold (run by ``nox -s build``).

Usage: python tests/check_dist.py DIST_DIR
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from pathlib import Path

WHEEL_MUST_HAVE = [
    "sms_async/__init__.py",
    "sms_async/py.typed",
    "sms_async/testing/pytest_plugin.py",
    "sms_async/cli/__init__.py",
    "sms_async/contrib/redis.py",
]
SDIST_MUST_HAVE = [
    "LICENSE",
    "README.md",
    "CHANGELOG.md",
    "pyproject.toml",
    "benchmarks/RESULTS.md",
    "benchmarks/run.py",
    "docs/index.md",
    "tests/conftest.py",
    "sms_async/py.typed",
]


def main(dist: Path) -> int:
    problems: list[str] = []
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = archive.read(metadata).decode()
        entry_points = archive.read(metadata.replace("METADATA", "entry_points.txt")).decode()
    problems += [f"wheel lacks {name}" for name in WHEEL_MUST_HAVE if name not in names]
    if not any(n.endswith(".dist-info/licenses/LICENSE") for n in names):
        problems.append("wheel lacks its LICENSE")
    problems += [f"wheel holds {n}" for n in names if n.startswith(("tests/", "docs/", "bench"))]
    if "License-Expression: MIT" not in meta:
        problems.append("wheel metadata has no License-Expression: MIT")
    if "sms-async = sms_async.cli:main" not in entry_points:
        problems.append("wheel has no sms-async command")
    if "sms_async = sms_async.testing.pytest_plugin" not in entry_points:
        problems.append("wheel has no pytest plugin entry point")
    with tarfile.open(sdist) as archive:
        root = archive.getnames()[0].split("/")[0]
        held = {name.removeprefix(root + "/") for name in archive.getnames()}
    problems += [f"sdist lacks {name}" for name in SDIST_MUST_HAVE if name not in held]
    for line in problems:
        print(f"check_dist: {line}", file=sys.stderr)
    print(f"check_dist: {wheel.name} ({len(names)} files), {sdist.name} ({len(held)} entries)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
