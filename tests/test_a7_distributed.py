"""a7_distributed end to end: the solutions pass `dlgrade check` in the sandbox and without it,
with every GPU property shown as skipped (with its reason) on a machine without one; the released
stubs fail as "not implemented"; the driver's process groups leave nothing behind."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from dlgrade.assignments import ASSIGNMENTS_DIR
from dlgrade.checkers.exercise import ExerciseResult, PropertyResult
from dlgrade.grader.cli import main
from dlgrade.grader.release import release
from dlgrade.grader.outputs.report import exercise_json, verdict
from helpers import manifest_exercises

A7 = "a7_distributed"


def _gpus() -> int:
    import torch
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


@pytest.mark.parametrize("flags", [[], ["--no-sandbox"]], ids=["sandbox", "in-process"])
def test_solutions_pass_with_gpu_properties_skipped(flags, tmp_path):
    report = tmp_path / "report.json"
    result = CliRunner().invoke(main, ["check", A7, "--path", str(ASSIGNMENTS_DIR), "--json", str(report),
                                       "--seed", "0", *flags])
    assert result.exit_code == 0, result.output
    exercises = json.loads(report.read_text())["exercises"]
    assert all(e["passed"] and e["points"] == e["max_points"] for e in exercises)
    skipped = [(e["name"], p) for e in exercises for p in e["properties"] if p.get("skipped")]
    if _gpus() < 2:
        assert ("ring_allreduce", "sums_on_nccl_across_gpus") in [(e, p["name"]) for e, p in skipped]
        assert all(not p["passed"] and p["message"].startswith("skipped: needs") for _, p in skipped)
        assert "skipped ring_allreduce.sums_on_nccl_across_gpus: needs 2 CUDA GPUs" in result.output
        assert "pass (1 skipped)" in result.output


def test_released_stubs_are_not_implemented(tmp_path):
    release(tmp_path, [A7])
    report = tmp_path / "report.json"
    result = CliRunner().invoke(main, ["check", A7, "--path", str(tmp_path), "--json", str(report), "--no-sandbox"])
    assert result.exit_code == 1
    exercises = json.loads(report.read_text())["exercises"]
    assert sorted(e["name"] for e in exercises) == sorted(manifest_exercises(A7))
    assert [e["status"] for e in exercises] == ["not_implemented"] * len(exercises)
    assert sum(e["points"] for e in exercises) == 0


def test_a_skipped_property_is_not_passed_and_not_counted():
    ran = PropertyResult("values", True, weight=3.0)
    gpu = PropertyResult("on_gpu", False, "skipped: needs 1 CUDA GPU", weight=1.0, checked=False, skipped=True)
    failing = PropertyResult("bytes", False, "too many bytes", weight=1.0, essential=False)
    assert ExerciseResult("e", A7, 4.0, [ran, gpu]).points == 4.0
    assert ExerciseResult("e", A7, 4.0, [ran, gpu]).passed
    assert ExerciseResult("e", A7, 4.0, [ran, gpu, failing]).points == 3.0  # over the properties that ran
    assert verdict(exercise_json(ExerciseResult("e", A7, 4.0, [ran, gpu]))) == "pass (1 skipped)"
    assert exercise_json(ExerciseResult("e", A7, 4.0, [ran, gpu]))["properties"][1]["skipped"] is True
    assert "skipped" not in exercise_json(ExerciseResult("e", A7, 4.0, [ran]))["properties"][0]


def test_ring_driver_counts_bytes_and_stops_a_deadlock():
    import torch.distributed as dist

    from dlgrade.grader.boundary.tensor_driver import ring

    def star(tensor):
        if dist.get_rank() == 0:
            buffer = tensor.clone()
            for other in range(1, dist.get_world_size()):
                dist.recv(buffer, other)
                tensor += buffer
            for other in range(1, dist.get_world_size()):
                dist.send(tensor, other)
        else:
            dist.send(tensor, 0)
            dist.recv(tensor, 0)

    def hangs(tensor):
        dist.recv(tensor, (dist.get_rank() + 1) % dist.get_world_size())

    inputs = [[np.full(8, float(r))] for r in range(3)]
    result = ring(star, inputs)
    assert result["error"] == ""
    assert [r["sent_bytes"] for r in result["ranks"]] == [[128], [64], [64]]
    assert all(np.array_equal(r["values"][0], np.full(8, 3.0)) for r in result["ranks"])
    stopped = ring(hangs, inputs, timeout=1.0)
    assert "did not finish within 1 s" in stopped["error"]
