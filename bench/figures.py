"""What both benchmark modes (kubesim, real control plane) share: the machine they ran on,
the targets of the scale issue they are held to, and how figures are written and shown."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

Say = Callable[[str], None]

LOAD_THREADS = 16
MIN_IMPORT_SPEEDUP = 15.0  # at 20 ms latency
SPEEDUP_LATENCY_MS = 20.0
# The baseline is strictly sequential, so its time is linear in the objects; past this many
# objects it is measured on an evenly spread sample and scaled (the full run would take ~40
# minutes at 20 ms for 1,000 clusters).
BASELINE_SAMPLE = 400
STEP_TIMEOUT = 900.0


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model or platform.processor(),
            "python": platform.python_version(), "system": f"{platform.system()} "
            f"{platform.release()}"}


def save(out: Path, results: dict[str, Any]) -> None:
    """Written after every run too, so that a long benchmark that fails keeps what it measured."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


def rate(objects: int, seconds: float) -> float:
    return round(objects / seconds, 1) if seconds > 0 else 0.0


def wrap(text: str, width: int = 100) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "\n".join([*lines, line])
