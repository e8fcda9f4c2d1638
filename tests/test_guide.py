"""docs/guide.md runs: its ```sh and ```python blocks are executed in order in a fresh copy of
the bundled example (``mig.toml`` and ``migrations/``), sh blocks by bash with this
environment's ``mig`` first on PATH (``set -euo pipefail``), python blocks in-process with the
copy as working directory, sharing one namespace. One test per block, so a failure names its
line; after a failure the later blocks are skipped (they depend on the state it left)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mig.engine import MigrationEngine

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "guide.md"
_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)


def blocks(text: str) -> list[tuple[str, int, str]]:
    """``(language, first line, code)`` of every sh and python block, in order."""
    found = []
    for match in _FENCE.finditer(text):
        language = match.group(1)
        if language in ("sh", "python"):
            line = text.count("\n", 0, match.start()) + 1
            found.append((language, line, match.group(2)))
    return found


BLOCKS = blocks(GUIDE.read_text(encoding="utf-8"))


class Tour:
    """The state the guide's blocks share: the folder, the namespace, whether one failed."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.namespace: dict[str, Any] = {"__name__": "guide"}
        self.failed: str | None = None


# The blocks run in order in one project, so in one process: pytest-xdist runs each file's
# tests in one worker (``--dist loadfile`` in pyproject.toml).
@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> Tour:
    folder = tmp_path_factory.mktemp("guide") / "example"
    folder.mkdir()
    shutil.copy(ROOT / "mig.toml", folder / "mig.toml")
    shutil.copytree(ROOT / "migrations", folder / "migrations")
    return Tour(folder)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("MIG_DATABASE", "MIG_CONFIG", "MIG_DISABLE_PLUGIN_AUTOLOAD")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["NO_COLOR"] = "1"
    return env


@pytest.mark.parametrize(("language", "line", "code"), BLOCKS,
                         ids=[f"{lang}-line{line}" for lang, line, _ in BLOCKS])
def test_guide_block(tour: Tour, language: str, line: int, code: str,
                     monkeypatch: pytest.MonkeyPatch) -> None:
    if tour.failed:
        pytest.skip(f"an earlier block failed ({tour.failed})")
    tour.failed = f"docs/guide.md:{line}"
    if language == "sh":
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=tour.folder,
                              env=_env(), capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, (
            f"docs/guide.md:{line} exited {proc.returncode}\n--- stdout\n{proc.stdout}"
            f"--- stderr\n{proc.stderr}")
    else:
        monkeypatch.chdir(tour.folder)
        for key in ("MIG_DATABASE", "MIG_CONFIG"):
            monkeypatch.delenv(key, raising=False)
        exec(compile(code, f"docs/guide.md:{line}", "exec"), tour.namespace)  # noqa: S102
    tour.failed = None


def test_the_guide_shows_every_public_method_of_the_engine() -> None:
    code = "\n".join(c for lang, _, c in BLOCKS if lang == "python")
    public = [name for name in dir(MigrationEngine) if not name.startswith("_")]
    missing = [name for name in public if not re.search(rf"\.{name}\b", code)]
    assert not missing, f"docs/guide.md has no python example of {missing}"
    assert "with MigrationEngine" in code  # the context manager


def test_the_readme_links_the_guide() -> None:
    assert "(docs/guide.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_a_failing_block_fails(tmp_path: Path) -> None:
    """The harness itself: a block that exits non-zero is reported as a failure."""
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", "mig up 999\necho unreachable"],
                          cwd=tmp_path, env=_env(), capture_output=True, text=True)
    assert proc.returncode != 0 and "unreachable" not in proc.stdout
    assert blocks("```sh\necho a\n```\n```toml\nx = 1\n```\n```python\npass\n```\n") == [
        ("sh", 1, "echo a\n"), ("python", 7, "pass\n")]
