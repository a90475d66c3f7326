"""The engine, the command line and the call boundary, on a1_backprop."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from assignments import ASSIGNMENTS_DIR
from checkers.registry import all_exercises, read_manifest
from grader.cli import main, run_checks
from grader.release import ReleaseError, release, solution_regions, strip_solutions
from grader.submission import Handle, InProcessSubmission, UnsupportedValue, to_plain
from helpers import planted

A1 = "a1_backprop"
CS231N_STYLE = Path(__file__).parent / "fixtures" / "cs231n_style"


@pytest.fixture(scope="module")
def stubs(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release")
    release(out, [A1])
    return out


# -- declarations --------------------------------------------------------------------------------


def test_every_declared_exercise_has_points_and_every_manifest_entry_is_declared():
    declared = {e.name for e in all_exercises() if e.assignment == A1}
    assert declared == set(read_manifest(A1)["points"])
    assert len(declared) == 23


def test_each_exercise_is_declared_once():
    names = [e.name for e in all_exercises()]
    assert len(names) == len(set(names))


# -- solutions, stubs, CS231n-style code ----------------------------------------------------------


def test_solutions_pass_every_property():
    _, results = run_checks([A1], ASSIGNMENTS_DIR, seed=123)
    failing = {r.name: [p.message for p in r.properties if not p.passed] for r in results if not r.passed}
    assert failing == {}
    assert sum(r.points for r in results) == sum(r.max_points for r in results)


def test_released_stubs_fail_as_not_implemented_and_nothing_else(stubs):
    _, results = run_checks([A1], stubs, seed=1)
    assert [r.status for r in results] == ["not_implemented"] * 23
    assert all(r.points == 0 for r in results)
    assert all("not implemented" in r.reason for r in results)


def test_cs231n_style_code_is_checked_as_it_is():
    _, results = run_checks([A1], CS231N_STYLE, seed=7)
    assert {r.name: r.passed for r in results} == {r.name: True for r in results}


# -- the command line ----------------------------------------------------------------------------


def test_check_exit_codes_and_json(tmp_path, stubs):
    runner = CliRunner()
    ok = runner.invoke(main, ["check", "relu_forward", "tanh_backward", "--path", str(ASSIGNMENTS_DIR),
                              "--json", str(tmp_path / "ok.json")])
    assert ok.exit_code == 0, ok.output
    report = json.loads((tmp_path / "ok.json").read_text())
    assert report["score"] == report["max_score"] == 2
    assert {"score", "max_score", "exercises"} <= set(report)
    exercise = report["exercises"][0]
    assert {"name", "assignment", "points", "max_points", "passed", "properties"} <= set(exercise)
    assert {"name", "passed", "message"} <= set(exercise["properties"][0])

    failed = runner.invoke(main, ["check", A1, "--path", str(stubs)])
    assert failed.exit_code == 1
    assert "not implemented" in failed.output

    usage = runner.invoke(main, ["check", "no_such_exercise", "--path", str(stubs)])
    assert usage.exit_code == 2
    assert "unknown exercise" in usage.output


def test_failure_shows_property_input_values_hint_and_replay_that_reproduces_it(tmp_path):
    path = planted(tmp_path, "losses", """
        def softmax_loss(x, y):
            p = np.exp(x - x.max(axis=1, keepdims=True)); p /= p.sum(axis=1, keepdims=True)
            loss = -np.log(p[np.arange(len(y)), y]).sum()
            dx = p.copy(); dx[np.arange(len(y)), y] -= 1
            return float(loss), dx
    """)
    result = CliRunner().invoke(main, ["check", "softmax_loss", "--path", str(path), "--seed", "5"], terminal_width=200)
    assert result.exit_code == 1
    out = result.output
    assert "loss_matches_reference" in out and "gradient_matches_reference" in out
    assert "smallest failing input: x=float64" in out
    assert "expected" in out and "got" in out
    assert "mean over the batch" in out
    replay = next(line.split("replay:", 1)[1].strip() for line in out.splitlines() if "replay:" in line)
    args = replay.split()[2:]
    again = CliRunner().invoke(main, ["check", *args], terminal_width=200)
    assert again.exit_code == 1
    first_message = out.split("loss_matches_reference", 1)[1].split("replay:")[0]
    assert first_message in again.output


def test_grading_profile_hides_example_values_but_keeps_the_explanation(tmp_path):
    path = planted(tmp_path, "layers", """
        def tanh_backward(dout, cache):
            out, = cache
            return dout * (1 - out)
    """)
    _, hidden = run_checks(["tanh_backward"], path, "grading")
    message = next(p for p in hidden[0].properties if p.name == "vjp_matches_reference")
    assert not message.passed
    assert "on a hidden input: dout=" not in message.message  # arguments are the forward's, by name
    assert "on a hidden input: x=float64[" in message.message
    assert "expected" not in message.message and "[[" not in message.message
    assert any("1 − tanh(x)²" in h for h in message.hints)
    assert message.replay == ""
    _, shown = run_checks(["tanh_backward"], path, "grading", reveal=True)
    assert "expected" in next(p for p in shown[0].properties if p.name == "vjp_matches_reference").message


def test_grading_is_deterministic(tmp_path):
    path = planted(tmp_path, "layers", """
        def affine_backward(dout, cache):
            x, w = cache
            dx = (dout @ w.T).reshape(x.shape)
            return dx, x.reshape(len(x), -1).T @ dout, dout.mean(axis=0)
    """)
    runs = [run_checks(["affine_backward", "sigmoid_forward"], path, "grading") for _ in range(2)]
    as_text = [[(r.name, r.points, [(p.name, p.passed, p.message) for p in r.properties]) for r in res] for _, res in runs]
    assert as_text[0] == as_text[1]
    assert runs[0][1][0].points == 0


# -- student folders that are incomplete or broken ----------------------------------------------


def test_a_file_with_some_functions_gets_a_verdict_for_every_exercise(tmp_path):
    folder = tmp_path / A1
    folder.mkdir()
    (folder / "layers.py").write_text(textwrap.dedent("""
        import numpy as np
        def relu_forward(x):
            return np.maximum(x, 0), x
        def relu_backward(dout, cache):
            return dout * (cache > 0)
    """))
    _, results = run_checks([A1], tmp_path, seed=3)
    by_name = {r.name: r for r in results}
    assert len(by_name) == 23
    assert by_name["relu_forward"].passed and by_name["relu_backward"].passed
    assert by_name["affine_forward"].status == "missing"
    assert "defines no function affine_forward" in by_name["affine_forward"].reason
    assert by_name["softmax"].status == "missing" and "losses.py not found" in by_name["softmax"].reason


def test_a_syntax_error_costs_only_that_module(tmp_path):
    path = planted(tmp_path, "losses", "def broken(:\n    pass\n")
    _, results = run_checks([A1], path, seed=3)
    modules = {e.name: e.module for e in all_exercises()}
    for r in results:
        if modules[r.name] == "layers":
            assert r.passed, r.name
        else:  # net.py imports losses.py, so it cannot load either, and says why
            assert r.status == "module_error" and "losses.py has a syntax error at line" in r.reason, r.reason


def test_a_backward_is_diagnosed_against_the_students_own_forward(tmp_path):
    # The forward is wrong (forgets the bias) but the backward is right for it: the backward's
    # points stand, and a forward bug that breaks the backward is told apart from a backward bug.
    path = planted(tmp_path, "layers", """
        def sigmoid_forward(x):
            out = 1 / (1 + np.exp(-2 * x))
            return out, (x, out)
        def sigmoid_backward(dout, cache):
            x, out = cache
            return dout * 2 * out * (1 - out)
        def tanh_backward(dout, cache):
            out, = cache
            return dout * (1 - out) * (1 + out) * 1.5
    """)
    _, results = run_checks(["sigmoid_forward", "sigmoid_backward", "tanh_backward"], path, seed=2)
    forward, backward, tanh = results
    assert not forward.passed
    vjp = next(p for p in backward.properties if p.name == "vjp_matches_reference")
    assert not vjp.passed and "fix your sigmoid_forward first" in vjp.message
    vjp = next(p for p in tanh.properties if p.name == "vjp_matches_reference")
    assert "dx disagrees with finite differences of your own tanh_forward too: the bug is in tanh_backward" in vjp.message


# -- release ---------------------------------------------------------------------------------------


def test_release_leaves_no_solution_text_and_keeps_signatures_and_docstrings(stubs):
    for source in (ASSIGNMENTS_DIR / A1).glob("*.py"):
        released = (stubs / A1 / source.name).read_text()
        assert "BEGIN SOLUTION" not in released and "END SOLUTION" not in released
        released_lines = {line.strip() for line in released.splitlines()}
        for region in solution_regions(source.read_text()):
            for line in region.splitlines()[1:-1]:
                assert line.strip() not in released_lines or not line.strip(), (source.name, line)
    layers = (stubs / A1 / "layers.py").read_text()
    assert "def affine_forward(x, w, b):" in layers and "Forward pass of a fully connected" in layers
    assert sorted(p.name for p in (stubs / A1).iterdir()) == ["layers.py", "losses.py", "manifest.toml", "net.py"]


def test_unbalanced_fences_are_refused():
    with pytest.raises(ReleaseError):
        strip_solutions("def f():\n    ### BEGIN SOLUTION\n    return 1\n")


# -- the call boundary -----------------------------------------------------------------------------


def test_only_plain_values_cross_the_boundary():
    assert to_plain((np.float32(1.5), {"a": [1, 2.0]}))[0].dtype == np.float32
    for bad in (np.ma.array([1.0]), np.array([object()]), object(), {1: np.zeros(1)}):
        with pytest.raises(UnsupportedValue):
            to_plain(bad)


def test_submission_keeps_caches_behind_handles_and_reports_aliasing_and_timeouts(tmp_path):
    folder = tmp_path / A1
    folder.mkdir()
    (folder / "layers.py").write_text(textwrap.dedent("""
        import numpy as np
        def relu_forward(x):
            return np.maximum(x, 0), {"x": x}
        def relu_backward(dout, cache):
            return dout
        def tanh_forward(x):
            while True:
                pass
    """))
    with InProcessSubmission(tmp_path, call_timeout=0.5) as sub:
        outcome = sub.call(A1, "layers", "relu_forward", [np.array([1.0, -1.0])], keep=(1,))
        out, handle = outcome.value
        assert isinstance(handle, Handle) and out.tolist() == [1.0, 0.0]
        back = sub.call(A1, "layers", "relu_backward", [np.ones(2), handle])
        assert back.aliases and "shares memory with argument 0" in back.aliases[0]
        hang = sub.call(A1, "layers", "tanh_forward", [np.ones(2)])
        assert hang.error.kind == "timeout"
        assert sub.function_status(A1, "layers", "sigmoid_forward").kind == "missing"


def test_demo_releases_checks_stubs_and_solutions():
    result = CliRunner().invoke(main, ["demo"], terminal_width=120)
    assert result.exit_code == 0, result.output
    assert "stubs: all not implemented; solutions: all pass" in result.output
