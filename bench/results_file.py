"""What every benchmark writes: its rows with the machine they were measured on."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path


def write_results(path: Path, rows: list[dict], notes: dict | None = None, announce: bool = True) -> None:
    """Write `rows` as JSON to `path`, with the machine's Python, CPU count and platform, and
    `notes` about the run (its load average, its options) where given; say so unless not `announce`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    machine = {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}
    path.write_text(json.dumps({"machine": machine, **({"notes": notes} if notes else {}), "results": rows},
                               indent=2))
    if announce:
        print(f"wrote {path}")
