"""The grading-speed benchmark's smoke run: every section runs and is written as JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "grading_speed.py"


def test_grading_speed_quick_run_writes_every_section(tmp_path):
    out = tmp_path / "speed.json"
    run = subprocess.run([sys.executable, str(BENCH), "--quick", "--out", str(out)], capture_output=True, text=True,
                         timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(out.read_text())
    rows = report["results"]
    assert report["notes"]["quick"] and len(report["notes"]["load_average_before"]) == 3
    submission = [r for r in rows if r["section"] == "submission"]
    assert {(r["profile"], r["mode"]) for r in submission} == {(p, m) for p in ("student", "grading")
                                                               for m in ("sandboxed", "in-process")}
    for r in submission:
        assert r["wall_s"] > 0 and r["cpu_s"] > 0 and r["student_s"] > 0 and r["points"] > 0
        assert r["examples"] > 0 and r["examples_per_s"] > 0
    assert "meets_target" in next(r for r in submission if r["profile"] == "grading" and r["mode"] == "sandboxed")
    (batch,) = [r for r in rows if r["section"] == "batch"]
    assert batch["errors"] == 0 and batch["overhead_ratio"] > 0
    checks = {(r["what"].split(" (")[0].split(" --")[0], r["mode"], "--watch" in r["what"]): r
              for r in rows if r["section"] == "check"}
    assert len(checks) == 3
    watching = [r for r in checks.values() if "--watch" in r["what"]]
    assert all(r["all_passed"] and r["runs"] == 1 and r["wall_s"] > 0 for r in watching)
    (nbgrader,) = [r for r in rows if r["section"] == "nbgrader"]
    assert "skipped" in nbgrader
    assert "seconds per submission" in run.stdout and "--watch" in run.stdout
