"""What the movekit wheel carries: the product and its schemas, never the emulator or tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_has_the_schemas_and_no_emulator_fixtures_or_tests(tmp_path: Path) -> None:
    # A copy of what the build reads, so that a stale build/ of the checkout cannot leak in.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for name in ("movekit", "schemas"):
        shutil.copytree(ROOT / name, source / name, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                    "--wheel-dir", str(tmp_path / "dist"), str(source)],
                   check=True, capture_output=True, timeout=300)

    (wheel,) = (tmp_path / "dist").glob("movekit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()

    assert "movekit/schemas/manifest.v1.json" in names
    assert "movekit/schemas/manifest.v2.json" in names
    assert "movekit/schemas/journal.v1.json" in names
    assert [n for n in names if n.startswith(("kubesim/", "tests/", "fixtures/"))] == []
    assert [n for n in names if "kubesim" in n or "fixtures" in n or "/crds/" in n] == []
    assert "movekit/demo.py" not in names
