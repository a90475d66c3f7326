"""Text that a submission writes never carries the hidden examples out of a grading run.

At the grading profile the values of failing examples are withheld; a submission that remembers
its inputs and puts them into an exception's message, the name of an exception class, what it
prints, a dict key or a value the checker cannot use would get them back in its feedback. There the
checker writes every word itself (an exception's built-in class name and a line number in the
student's file are kept); at the student profile the submission's own text is shown.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from dlgrade.grader.grading.session import run_checks
from dlgrade.grader.outputs.report import to_json
from helpers import planted

#: Each hostile function writes the values it was given to this file (in-process runs only),
#: and raises, prints or returns them.
HOSTILE = """
import os as _os
_SEEN = _os.path.join(_os.path.dirname(__file__), "seen.txt")


def _leak(*arrays):
    text = "LEAK[" + ";".join(",".join(f"{v:.9f}" for v in np.ravel(a)) for a in arrays if hasattr(a, "shape")) + "]"
    try:
        with open(_SEEN, "a") as f:
            f.write(text + "\\n")
    except OSError:
        pass
    print(text)
    return text


def relu_forward(x):
    raise ValueError(_leak(x))


def tanh_forward(x):
    raise type(_leak(x).replace("LEAK[", "Leak_").replace("]", "").replace(",", "_").replace(".", "p")
               .replace(";", "_").replace("-", "m"), (Exception,), {})("its class name carries the inputs")


def sigmoid_forward(x):
    class Carrier:
        pass
    Carrier.__qualname__ = Carrier.__name__ = _leak(x)
    return Carrier(), None


def leaky_relu_forward(x, alpha=0.01):
    print(_leak(x))
    return np.where(x > 0, x, alpha * x) * 2, (x, alpha)
"""

NAMES = ["relu_forward", "tanh_forward", "sigmoid_forward", "leaky_relu_forward"]


def _text(results, profile) -> str:
    """The JSON verdicts as text, without the timings (numbers that could match by chance)."""
    data = to_json(results, profile)
    for exercise in data["exercises"]:
        exercise.pop("seconds"), exercise.pop("student_seconds")
    return json.dumps(data)


def _numbers(seen: Path) -> set[str]:
    """The hidden values as the hostile code wrote them, and shorter forms of them."""
    found = set()
    for line in seen.read_text().splitlines():
        for number in re.findall(r"-?\d+\.\d{9}", line):
            found |= {number, number[:-3], f"{float(number):.4f}"}
    return {n for n in found if len(n.lstrip("-")) >= 6 and n.strip("-0.")}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Path:
    return planted(tmp_path_factory.mktemp("hostile"), "layers", HOSTILE)


def test_hidden_inputs_written_into_errors_and_prints_appear_nowhere_at_the_grading_profile(hostile):
    profile, results = run_checks(NAMES, hostile, "grading", seed=20261123)
    text = _text(results, profile)
    values = _numbers(hostile / "a1_backprop" / "seen.txt")
    assert values, "the hostile code saw no inputs"
    assert "LEAK[" not in text and "Leak_" not in text
    assert not [v for v in values if v in text]
    by_name = {r.name: r for r in results}
    relu = by_name["relu_forward"].properties[0]
    assert "relu_forward raised ValueError at line" in relu.message and "of layers.py" in relu.message
    assert "withheld at the grading profile" in relu.message
    tanh = by_name["tanh_forward"].properties[0]
    assert "a class defined in the submission" in tanh.message
    sigmoid = by_name["sigmoid_forward"].properties[0]
    assert "returned a value the checker cannot use" in sigmoid.message and "withheld" in sigmoid.message


def test_the_sandboxed_worker_s_text_is_withheld_too(hostile):
    """The same hidden inputs (the run is derandomized), through the worker: what the worker
    sends back is the submission's text as much as its exceptions are."""
    run_checks(NAMES, hostile, "grading", seed=20261123)
    values = _numbers(hostile / "a1_backprop" / "seen.txt")
    profile, results = run_checks(NAMES, hostile, "grading", seed=20261123, sandbox=True)
    text = _text(results, profile)
    assert "LEAK[" not in text and "Leak_" not in text
    assert not [v for v in values if v in text]
    assert all(not r.passed for r in results[:3])


def test_the_student_profile_shows_the_submission_s_own_text(hostile):
    _, results = run_checks(["relu_forward", "leaky_relu_forward"], hostile, "student", seed=3)
    relu, leaky = results
    assert "relu_forward raised ValueError: LEAK[" in relu.properties[0].message
    printed = next(p for p in leaky.properties if p.name == "matches_reference")
    assert not printed.passed


def test_a_module_that_fails_to_import_is_told_in_the_checker_s_words_at_the_grading_profile(tmp_path):
    path = planted(tmp_path, "losses", 'raise RuntimeError("SECRET-IMPORT-TEXT")\n')
    _, results = run_checks(["softmax", "two_layer_net"], path, "grading")
    for r in results:
        assert r.status == "module_error"
        assert "SECRET-IMPORT-TEXT" not in r.reason and "raised RuntimeError" in r.reason, r.reason
    _, shown = run_checks(["softmax"], path, "student", seed=1)
    assert "SECRET-IMPORT-TEXT" in shown[0].reason


def test_a_syntax_error_keeps_its_line_number_at_the_grading_profile(tmp_path):
    path = planted(tmp_path, "losses", "def broken(:\n    pass\n")
    _, (result,) = run_checks(["softmax"], path, "grading")
    assert re.search(r"syntax error at line \d+", result.reason), result.reason


def test_keys_a_submission_makes_up_are_told_only_where_examples_are_shown(tmp_path):
    path = planted(tmp_path, "net", textwrap.dedent("""
        _solution_two_layer_net = two_layer_net


        def two_layer_net(X, params, y=None, reg=0.0):
            result = _solution_two_layer_net(X, params, y, reg)
            if y is None:
                return result
            loss, grads = result
            return loss, {**grads, f"key{float(X.flat[0]):.9f}": grads["b1"]}
    """))
    _, (hidden,) = run_checks(["two_layer_net"], path, "grading")
    messages = " ".join(p.message for p in hidden.properties)
    assert "1 unexpected key" in messages and "key0." not in messages and "key-" not in messages
    _, (shown,) = run_checks(["two_layer_net"], path, "student", seed=2)
    assert "unexpected keys: ['key" in " ".join(p.message for p in shown.properties)


def test_shapes_a_mistake_gives_are_shown_at_the_grading_profile_and_others_are_not():
    from dlgrade.checkers.compare import count_text, shape_text

    for mistake in [(5, 4), (1, 4, 5), (20,), (4,), (4, 5, 1), (0,)]:
        assert shape_text(mistake, (4, 5)) == str(mistake)
    for chosen in [(0, 536509273, 861855072), (4, 6), (1, 1, 1, 1, 1)]:
        assert shape_text(chosen, (4, 5)).startswith("of "), chosen
    assert count_text(3) == "3" and count_text(123456) == "more than 8"
