"""A forward that returns the wrong output shape, planted for every layer of every assignment.

Each backward is checked on its own forward's cache: when that forward's output does not have the
contract's shape, the backward cannot be judged (the upstream gradient has the contract's shape),
so it gets no points and a message that blames the forward; the checker itself never fails, and
the exercises that are not layers keep their points. The planted forwards are made from the
declarations, so a layer added later is covered too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dlgrade.checkers.exercise import BACKWARD_NOT_CHECKED
from dlgrade.checkers.profiles import get_profile
from dlgrade.checkers.registry import all_exercises, contract_module
from dlgrade.checkers.runner import check_exercise
from dlgrade.grader.outputs.report import exercise_json, verdict
from dlgrade.grader.boundary.submission import InProcessSubmission
from helpers import copy_solutions

#: The forward's first output, made wrong in two ways taken in turn: one element short along the
#: last axis, or an extra axis.
DISTORTIONS = ["out[..., :-1]", "out[..., None]"]

# The distortion applies where the checker calls the forward; where the submission's own code
# calls it (a network calling affine_forward, a sequence calling its step) it is left alone, so
# that only the layer itself is wrong. Student modules live in packages named by the call
# boundary (`_dlgrade_submission_N`).
_WRAPPER = '''

import sys as _sys


def _wrong_shape(function, distort):
    def wrapped(*args, **kwargs):
        result = function(*args, **kwargs)
        if _sys._getframe(1).f_globals.get("__name__", "").startswith("_dlgrade_submission_"):
            return result
        out = result[0]
        return (distort(out), *result[1:])
    return wrapped
'''


def layers_of(assignment: str) -> dict[str, str]:
    """Every backward of the assignment, by name, with the forward it needs."""
    return {e.name: e.needs[0] for e in all_exercises() if e.assignment == assignment and e.needs}


ASSIGNMENTS = sorted({e.assignment for e in all_exercises() if e.needs})


def plant_wrong_forwards(root: Path, assignment: str) -> dict[str, str]:
    """The solutions with every layer forward returning a wrongly shaped output; returns the
    distortion of each forward."""
    folder = copy_solutions(root, assignment)
    planted: dict[str, str] = {}
    by_module: dict[str, list[str]] = {}
    for i, forward in enumerate(sorted(set(layers_of(assignment).values()))):
        planted[forward] = DISTORTIONS[i % len(DISTORTIONS)]
        by_module.setdefault(contract_module(assignment, forward), []).append(forward)
    for module, forwards in by_module.items():
        path = folder / f"{module}.py"
        text = path.read_text() + _WRAPPER
        for forward in forwards:
            text += f"\n{forward} = _wrong_shape({forward}, lambda out: {planted[forward]})\n"
        path.write_text(text)
    return planted


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_a_wrongly_shaped_forward_blames_itself_and_costs_nothing_else(assignment, tmp_path):
    planted = plant_wrong_forwards(tmp_path, assignment)
    backwards = layers_of(assignment)
    forwards = set(backwards.values())
    profile = get_profile("student", seed=11)
    with InProcessSubmission(tmp_path) as submission:
        for exercise in (e for e in all_exercises() if e.assignment == assignment):
            if exercise.name in forwards:
                continue  # wrong on purpose; its own properties say so
            result = check_exercise(exercise, submission, profile)
            assert result.status == "checked", (exercise.name, result.reason)
            if exercise.name not in backwards:
                assert result.passed and result.points == result.max_points, (
                    exercise.name, [p.message.splitlines()[0] for p in result.properties if not p.passed])
                continue
            forward = exercise.needs[0]
            first = result.properties[0]
            assert first.name == "runs_on_valid_inputs" and not first.passed
            assert first.message.startswith(f"{BACKWARD_NOT_CHECKED}: your {forward}'s "), (
                exercise.name, planted[forward], first.message)
            assert "expected" in first.message.splitlines()[0], first.message
            assert result.points == 0
            assert all(not p.checked for p in result.properties[1:]), exercise.name
            assert verdict(exercise_json(result)) == "fail (its forward is wrong)"


def test_a_backward_is_never_called_on_the_cache_of_a_forward_of_the_wrong_shape(tmp_path):
    """The forward and the backward go to the worker together, but the backward is made only
    where the forward's outputs have the reference's shapes: a backward that would hang on the
    cache of a wrong forward is never reached, and the verdict blames the forward."""
    from dlgrade.grader.grading.session import run_checks
    from helpers import planted

    path = planted(tmp_path, "layers", """
        def relu_forward(x):
            out = np.maximum(x, 0)
            return (out, (x,)) if x.shape[0] < 3 else (out[:-1], (x, "wrong"))
        def relu_backward(dout, cache):
            while len(cache) > 1:  # never ends on the cache of a wrong forward
                pass
            return dout * (cache[0] > 0)
    """)
    for sandbox in (False, True):
        _, (result,) = run_checks(["relu_backward"], path, "grading", seed=5, sandbox=sandbox, exercise_timeout=20)
        runs = result.properties[0]
        assert runs.name == "runs_on_valid_inputs" and not runs.passed
        assert runs.message.startswith(BACKWARD_NOT_CHECKED) and "relu_forward" in runs.message
        assert result.student_seconds < 5, "the backward ran on a wrong forward's cache"
