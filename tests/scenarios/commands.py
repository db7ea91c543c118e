"""Running movekit as a user does: a separate process, optionally under a given umask."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


def movekit(*args: str | Path, umask: int | None = None, cwd: Path | None = None,
            env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``movekit ARGS`` in a child process; ``umask`` is set in the child before it starts,
    ``env`` added to its environment (``COLUMNS``, say)."""

    def set_umask() -> None:
        if umask is not None:
            os.umask(umask)

    return subprocess.run([sys.executable, "-m", "movekit", *map(str, args)],
                          capture_output=True, text=True, timeout=120, check=False, cwd=cwd,
                          preexec_fn=set_umask, env={**os.environ, **(env or {})})
