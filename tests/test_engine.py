"""The engine, the command line and the call boundary, on a1_backprop."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dlgrade.assignments import ASSIGNMENTS_DIR
from dlgrade.checkers.registry import all_exercises, read_manifest
from dlgrade.grader.cli import main
from dlgrade.grader.grading.session import run_checks
from dlgrade.grader.release import ReleaseError, release, solution_regions, strip_solutions
from dlgrade.grader.boundary.submission import Handle, InProcessSubmission, UnsupportedValue, to_plain
from helpers import course_assignments, exercises_defined_in, manifest_exercises, planted

A1 = "a1_backprop"
CS231N_STYLE = Path(__file__).parent / "fixtures" / "cs231n_style"


@pytest.fixture(scope="module")
def stubs(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release")
    release(out, [A1])
    return out


# -- declarations --------------------------------------------------------------------------------


@pytest.mark.parametrize("assignment", course_assignments())
def test_every_declared_exercise_has_points_and_every_manifest_entry_is_declared(assignment):
    declared = {e.name for e in all_exercises() if e.assignment == assignment}
    assert declared == set(read_manifest(assignment)["points"])
    assert declared


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
    assert sorted(r.name for r in results) == sorted(manifest_exercises(A1))
    assert [r.status for r in results] == ["not_implemented"] * len(results)
    assert all(r.points == 0 for r in results)
    assert all("not implemented" in r.reason for r in results)


@pytest.mark.parametrize("assignment", sorted(p.name for p in CS231N_STYLE.iterdir() if p.is_dir()))
def test_cs231n_style_code_is_checked_as_it_is(assignment):
    # The fixture is CS231n students' code: it is checked on the exercises it defines, and gets
    # full points for each of them.
    names = exercises_defined_in(CS231N_STYLE, assignment)
    assert names, f"tests/fixtures/cs231n_style/{assignment} defines no exercise of {assignment}"
    _, results = run_checks(names, CS231N_STYLE, seed=7)
    assert [r.name for r in results] == names
    failing = {r.name: [p.name for p in r.properties if not p.passed] or [r.reason]
               for r in results if not r.passed or r.points != r.max_points}
    assert failing == {}


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
    assert set(by_name) == set(manifest_exercises(A1)) and len(results) == len(by_name)
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


# -- issue 13: no student output loses a result --------------------------------------------------


def test_a_forward_of_the_wrong_shape_is_blamed_and_the_run_goes_on(tmp_path):
    # The backward ignores dout's shape, so the reference's vector-Jacobian product used to be
    # handed an upstream gradient of the student's shape, and torch's error aborted the whole run.
    path = planted(tmp_path, "conv", """
        _solution_max_pool_forward_naive = max_pool_forward_naive


        def max_pool_forward_naive(x, pool_param):
            out, cache = _solution_max_pool_forward_naive(x, pool_param)
            return np.zeros((out.shape[0], out.shape[1], out.shape[2] + 1, out.shape[3] + 2)), cache


        def max_pool_backward_naive(dout, cache):
            x, pool_param = cache
            return np.zeros_like(x)
    """, assignment="a4_cnn")
    _, (backward, conv) = run_checks(["max_pool_backward_naive", "conv_forward_naive"], path, "grading", seed=0)
    assert backward.points == 0 and conv.passed
    first = backward.properties[0].message.splitlines()[0]
    assert first.startswith("backward not checked: your max_pool_forward_naive's out has shape"), first
    assert "expected" in first


def test_an_exception_on_the_trusted_side_is_that_property_s_failure_and_the_others_still_run():
    from dlgrade.checkers.exercise import Exercise, Property
    from dlgrade.checkers.profiles import get_profile
    from dlgrade.checkers.properties import examples, mistake_hints
    from dlgrade.checkers.exercise import Case, Mistake
    from dlgrade.checkers.runner import check_exercise
    from dlgrade.grader.boundary.submission import InProcessSubmission

    def broken_reference(ctx, case):
        raise RuntimeError("The size of tensor a (3) must match the size of tensor b (2)")

    def broken_model(case, right, dout):
        raise ZeroDivisionError("a mistake model that does not apply")

    def fine(ctx, case):
        assert mistake_hints([Mistake("never", "output", broken_model)], "output", case, 1.0, 1.0) == []

    cases = examples(Case({"x": np.ones(2)}))
    exercise = Exercise("relu_forward", A1, "layers", "", [
        Property("runs_on_valid_inputs", "", fine, cases),
        Property("judged_by_a_broken_reference", "", broken_reference, cases),
        Property("after_it", "", fine, cases)], cases)
    with InProcessSubmission(ASSIGNMENTS_DIR) as submission:
        for name, reveal in (("student", True), ("grading", False)):
            result = check_exercise(exercise, submission, get_profile(name, seed=1))
            broken = result.properties[1]
            assert not broken.passed and broken.checked
            assert broken.message.startswith("the checker could not judge this property")
            assert ("must match the size" in broken.message) == reveal
            assert result.properties[0].passed and result.properties[2].passed
            assert result.points == 0


def test_a_diagnosis_that_cannot_be_made_never_replaces_the_failure():
    # The student's forward gives an output of another shape near the drawn input: no diagnosis.
    from dlgrade.checkers.exercise import Case
    from dlgrade.checkers.properties import diagnose_with_finite_differences

    case = Case({"x": np.ones((2, 3))})
    grads, ups = {"x": np.zeros((2, 3))}, {"out": np.ones((2, 3))}
    assert diagnose_with_finite_differences(lambda c: {"out": np.ones(5)}, case, ups, grads, ["dx"], True,
                                            "relu_forward", "relu_backward") is None


# -- issue 13: messages that mislead ---------------------------------------------------------------


def _property(results, exercise, name):
    result = next(r for r in results if r.name == exercise)
    return next(p for p in result.properties if p.name == name)


def test_the_hint_about_globals_comes_only_where_one_cache_alone_is_right(tmp_path):
    path = planted(tmp_path, "layers", """
        def affine_backward(dout, cache):
            x, w = cache
            return (dout @ w.T).reshape(x.shape), x.reshape(len(x), -1).T @ dout, dout.mean(axis=0)


        _solution_relu_forward, _solution_relu_backward = relu_forward, relu_backward
        _last = None


        def relu_forward(x):
            global _last
            out, _last = _solution_relu_forward(x)
            return out, _last


        def relu_backward(dout, cache):
            return _solution_relu_backward(dout, _last)
    """)
    _, results = run_checks(["affine_backward", "relu_backward"], path, "grading", seed=0)
    wrong = _property(results, "affine_backward", "caches_are_independent")
    assert not wrong.passed and not any("not in globals" in h for h in wrong.hints)
    assert "it is wrong on its own too: see vjp_matches_reference" in wrong.message
    globals_ = _property(results, "relu_backward", "caches_are_independent")
    assert not globals_.passed and any("not in globals" in h for h in globals_.hints)


def test_a_bias_gradient_summed_over_every_axis_gets_the_axis_to_sum_over(tmp_path):
    path = planted(tmp_path, "layers", """
        def affine_backward(dout, cache):
            x, w = cache
            return (dout @ w.T).reshape(x.shape), x.reshape(len(x), -1).T @ dout, dout.sum()
    """)
    planted(tmp_path, "conv", """
        _solution_conv_backward_naive = conv_backward_naive


        def conv_backward_naive(dout, cache):
            dx, dw, db = _solution_conv_backward_naive(dout, cache)
            return dx, dw, dout.sum()
    """, assignment="a4_cnn")
    _, results = run_checks(["affine_backward", "conv_backward_naive"], tmp_path, "grading", seed=0)
    affine = _property(results, "affine_backward", "gradient_shapes")
    assert any("dout.sum(axis=0)" in h for h in affine.hints) and not any("reshape to" in h for h in affine.hints)
    conv = _property(results, "conv_backward_naive", "gradient_shapes")
    assert any("dout.sum(axis=(0, 2, 3))" in h for h in conv.hints), conv.hints


def test_numbers_are_compared_with_a_tolerance_when_a_mistake_is_recognised():
    from dlgrade.checkers.compare import values_close
    from dlgrade.checkers.exercise import Case, Mistake
    from dlgrade.checkers.properties import mistake_hints

    assert values_close(0.1 + 0.2, 0.3) and values_close({"loss": 0.1 + 0.2}, {"loss": 0.3})
    assert not values_close(0.3, 0.31) and values_close(3, 3) and not values_close(3, 4)
    tripled = Mistake("three times", "loss", lambda case, right, dout: right * 3)
    assert mistake_hints([tripled], "loss", Case({}), 0.1, 0.1 + 0.1 + 0.1) == ["three times"]


def test_the_grading_profile_shows_configuration_and_hides_array_values(tmp_path):
    path = planted(tmp_path, "conv", """
        _solution_max_pool_forward_naive = max_pool_forward_naive


        def max_pool_forward_naive(x, pool_param):
            out, cache = _solution_max_pool_forward_naive(x, pool_param)
            return out * 1.5, cache
    """, assignment="a4_cnn")
    _, (result,) = run_checks(["max_pool_forward_naive"], path, "grading")
    message = _property([result], "max_pool_forward_naive", "matches_reference").message
    assert re.search(r"pool_param=\{'pool_height': \d, 'pool_width': \d, 'stride': \d\}", message), message
    assert "x=float64[" in message and "[[" not in message


def test_verdicts_say_partial_when_only_minor_properties_fail_and_fail_when_nothing_is_earned(tmp_path):
    from dlgrade.grader.outputs.report import exercise_json, verdict

    path = planted(tmp_path, "layers", """
        def relu_forward(x):
            x[x < 0] = 0
            return x, (x,)


        def tanh_forward(x):
            out = np.tanh(np.asarray(x, dtype=float))
            return out, (out,)


        def sigmoid_forward(x):
            out = 1 / (1 + np.exp(-2 * x))
            return out, (out,)
    """)
    _, (relu, tanh, sigmoid) = run_checks(["relu_forward", "tanh_forward", "sigmoid_forward"], path, "grading")
    assert 0 < relu.points < relu.max_points and verdict(exercise_json(relu)).startswith("partial (1 of")
    # float32 kept as float32 is advice: reported, worth nothing, and the case is shown in float32
    assert tanh.passed and tanh.points == tanh.max_points and verdict(exercise_json(tanh)) == "pass (advice)"
    advice = _property([tanh], "tanh_forward", "preserves_float32")
    assert not advice.passed and advice.advice and "x=float32[" in advice.message
    assert sigmoid.points == 0 and verdict(exercise_json(sigmoid)).startswith("fail (")


def test_a_manifest_can_give_float32_and_any_property_weight():
    from dlgrade.checkers.registry import _reweigh
    from dlgrade.checkers.specs.a1_backprop import EXERCISES

    exercise = next(e for e in EXERCISES if e.name == "tanh_forward")
    copy = type(exercise)(exercise.name, exercise.assignment, exercise.module, "", list(exercise.properties),
                          exercise.cases, 1.0)
    _reweigh(copy, {"preserves_float32": 0.5, "tanh_forward": {"inputs_unchanged": 2}}, A1)
    weights = {p.name: p.weight for p in copy.properties}
    assert weights["preserves_float32"] == 0.5 and weights["inputs_unchanged"] == 2.0
    assert next(p for p in exercise.properties if p.name == "preserves_float32").weight == 0.0
    with pytest.raises(ValueError, match="has not"):
        _reweigh(copy, {"tanh_forward": {"no_such_property": 1}}, A1)


def test_code_written_for_numpy_1_gets_a_hint_naming_the_numpy_2_change(tmp_path):
    path = planted(tmp_path, "layers", """
        def relu_forward(x):
            return x * (x > 0).astype(np.int), (x,)


        def affine_forward(x, w, b):
            return np.reshape(x, newshape=(x.shape[0], -1)) @ w + b, (x, w)
    """)
    losses = tmp_path / A1 / "losses.py"
    losses.write_text(losses.read_text() + textwrap.dedent("""

        def l2_regularization(w, reg):
            return float(0.5 * reg * np.sum(w * w, axis=0, keepdims=True)), reg * w
    """))
    _, results = run_checks(["relu_forward", "affine_forward", "l2_regularization"], tmp_path, "grading")
    hints = {r.name: r.properties[0].hints for r in results}
    assert any("np.int no longer exists" in h and "NumPy 1.24" in h for h in hints["relu_forward"]), hints
    assert any("newshape=" in h and "NumPy 2" in h for h in hints["affine_forward"]), hints
    assert any("only 0-d arrays" in h for h in hints["l2_regularization"]), hints


# -- issue 13: a contract function found in another module of the assignment --------------------

CS231N_LAYERS_ROOT = Path(__file__).parent / "fixtures" / "cs231n_layers"
CS231N_LAYERS = CS231N_LAYERS_ROOT / A1 / "layers.py"


def test_a_cs231n_layers_py_over_the_stubs_is_checked_function_by_function(tmp_path, stubs):
    import shutil

    shutil.copytree(stubs / A1, tmp_path / A1)
    shutil.copy(CS231N_LAYERS, tmp_path / A1 / "layers.py")
    _, results = run_checks([A1], tmp_path, "grading", sandbox=True)
    by_name = {r.name: r for r in results}
    defined = exercises_defined_in(CS231N_LAYERS_ROOT, A1)   # affine, relu, softmax_loss, svm_loss
    assert {"softmax_loss", "svm_loss"} <= set(defined)
    for name in defined:
        assert by_name[name].passed and by_name[name].points == by_name[name].max_points, (name, by_name[name].reason)
    assert by_name["softmax_loss"].note == "softmax_loss was checked in layers.py: the contract puts it in losses.py"
    assert by_name["svm_loss"].note and not by_name["affine_forward"].note
    assert by_name["softmax"].status == "not_implemented" and by_name["leaky_relu_forward"].status == "missing"
    assert sum(r.points for r in results) == sum(by_name[name].max_points for name in defined)


def test_the_contract_s_module_wins_over_a_second_definition_elsewhere(tmp_path):
    path = planted(tmp_path, "losses", """
        def softmax_loss(x, y):
            p = np.exp(x - x.max(axis=1, keepdims=True)); p /= p.sum(axis=1, keepdims=True)
            dx = p.copy(); dx[np.arange(len(y)), y] -= 1
            return float(-np.log(p[np.arange(len(y)), y]).sum()), dx
    """)
    layers = tmp_path / A1 / "layers.py"
    right = "def softmax_loss" + CS231N_LAYERS.read_text().split("def softmax_loss")[1]   # CS231n's, correct
    layers.write_text(layers.read_text() + "\n\n" + right)
    _, (result,) = run_checks(["softmax_loss"], path, "grading")
    assert result.points == 0 and not result.note


# -- a property whose time runs out between a failing run and its replay --------------------------


@pytest.mark.parametrize("spent", [False, True])
def test_a_failure_that_does_not_replay_is_nondeterminism_only_while_time_is_left(spent, tmp_path):
    import dataclasses

    from dlgrade.checkers.exercise import Context, Property, PropertyFailure
    from dlgrade.checkers.profiles import get_profile
    from dlgrade.checkers.registry import select
    from dlgrade.checkers.runner import check_property

    calls = []

    def fails_once(ctx, case):
        calls.append(case)
        if len(calls) == 1:
            raise PropertyFailure("differs from the reference")

    (exercise,) = select(["relu_forward"])
    with InProcessSubmission(ASSIGNMENTS_DIR) as submission:
        submission.set_deadline(0.0 if spent else 60.0)
        result = check_property(Context(exercise, submission), Property("flaky", "fails once", fails_once),
                                dataclasses.replace(get_profile("grading", 0), max_examples=5))
    assert not result.passed
    if spent:
        assert "ran out of time" in result.message and "nondeterministic" not in result.message, result.message
    else:
        assert "nondeterministic" in result.message, result.message
