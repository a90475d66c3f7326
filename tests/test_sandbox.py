"""The sandboxed worker: the wire format, confinement, and verdicts equal to in-process ones."""

from __future__ import annotations

import io
import json
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlgrade.grader.boundary import wire
from dlgrade.grader.grading.session import run_checks
from dlgrade.grader.boundary.sandbox import WORKER_UIDS, SandboxedSubmission, bwrap_path
from dlgrade.grader.boundary.submission import Handle
from helpers import planted

A1 = "a1_backprop"
REPO = Path(__file__).resolve().parents[1]
needs_bwrap = pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap is not installed on this machine")


# -- the wire ---------------------------------------------------------------------------------------


def test_plain_values_round_trip():
    message = {"value": (np.arange(6, dtype=np.float32).reshape(2, 3), Handle(4)), "n": [1, 2.5, None, "s"],
               "d": {"k": np.array(True)}, "empty": np.zeros((0, 3))}
    back = wire.receive(io.BytesIO(wire.encode(message)))
    assert back["value"][0].dtype == np.float32 and back["value"][0].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert back["value"][1] == Handle(4) and back["n"] == [1, 2.5, None, "s"] and back["empty"].shape == (0, 3)


@pytest.mark.parametrize("header", [
    {"body": {"a": 0}, "arrays": [["|O", [1], 8]]},          # an object array
    {"body": {"a": 0}, "arrays": [["<f8", [1000], 8]]},      # size does not match the shape
    {"body": {"a": 3}, "arrays": []},                        # a reference to no array
    {"body": {"x": 1, "y": 2}, "arrays": []},                # a tagged value that is not one
    {"body": [1, 2], "arrays": []},                          # not a dict
])
def test_malformed_messages_are_refused(header):
    data = json.dumps(header).encode()
    stream = io.BytesIO(struct.pack(">Q", len(data)) + data + b"\0" * 8)
    with pytest.raises(wire.WireError):
        wire.receive(stream)


def _forged(header: bytes, announced: int | None = None, tail: bytes = b"") -> bytes:
    return struct.pack(">Q", len(header) if announced is None else announced) + header + tail


#: Forged messages as a hostile worker would write them to its answer pipe.
FORGED = {
    "announces_80_MB": _forged(b"[" + b"[]," * 1000, announced=80_000_000),
    "many_elements": _forged(b'{"body": [' + b"[]," * 300_000 + b'[]], "arrays": []}'),
    "deep_nesting": _forged(b"[" * 200_000 + b"]" * 200_000),
    "real_depth_behind_brackets_in_strings": _forged(b'{"body": {"x": "]]]]]]"}, "arrays": [' + b"[" * 100
                                                                  + b"]" * 100 + b"]}"),
    "shape_overflow": _forged(json.dumps({"body": {"a": 0}, "arrays": [["<f8", [2**40, 2**40, 2**40], 0]]}).encode()),
    "int64_wraparound": _forged(json.dumps({"body": {"a": 0}, "arrays": [["<f8", [2**32, 2**32], 0]]}).encode()),
    "huge_array": _forged(json.dumps({"body": {"a": 0}, "arrays": [["<f8", [2**28], 2**31]]}).encode()),
    "too_many_arrays": _forged(json.dumps({"body": None, "arrays": [["<f8", [0], 0]] * 20_000}).encode()),
    "huge_integer": _forged(b'{"body": {"v": ' + b"9" * 100_000 + b'}, "arrays": []}'),
    "not_an_object": _forged(b"[1, 2, 3]"),
    "bad_dtype": _forged(json.dumps({"body": {"a": 0}, "arrays": [["(1000000000,)f8", [1], 8]]}).encode()),
}


def _peak_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) << 10
    return 0


@pytest.mark.parametrize("name", list(FORGED))
def test_forged_answers_are_refused_before_they_cost_memory(name):
    Path("/proc/self/clear_refs").write_text("5")  # the peak RSS starts again from here
    start = _peak_rss()
    with pytest.raises(wire.WireError):
        wire.receive(io.BytesIO(FORGED[name]))
    assert _peak_rss() - start < 50 << 20


def test_a_header_of_escaped_quotes_is_checked_in_linear_time():
    """A string that never closes, made of escaped quotes, made a backtracking pattern take hours
    of the trusted process's CPU on a 1 MiB header."""
    header = b'{"body": "' + b'\\"' * (wire.MAX_HEADER_BYTES // 2 - 8)
    start = time.process_time()
    with pytest.raises(wire.WireError):
        wire.receive(io.BytesIO(_forged(header)))
    assert time.process_time() - start < 2.0


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(alphabet='"\\[]{},: ab\n\u00e9'),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(alphabet='"\\[]:a'), inner,
                                                                                  max_size=4), max_leaves=20))
@settings(max_examples=200, deadline=None)
def test_the_structure_of_a_header_is_what_json_parses(value):
    """Whatever its strings hold (quotes, backslashes, brackets), the header's structure counts
    the containers and separators that json finds."""
    encoded = json.dumps(value).encode()
    structure = wire._structure(encoded)

    def containers(v):
        children = v if isinstance(v, list) else list(v.values()) if isinstance(v, dict) else None
        return 0 if children is None else 1 + sum(containers(x) for x in children)

    def separators(v):
        if isinstance(v, list):
            return max(0, len(v) - 1) + sum(separators(x) for x in v)
        if isinstance(v, dict):
            return max(0, len(v) - 1) + len(v) + sum(separators(x) for x in v.values())
        return 0

    assert structure.count(b"[") + structure.count(b"{") == containers(value)
    assert structure.count(b",") + structure.count(b":") == separators(value)


def test_an_answer_that_nests_values_deeply_is_refused_when_encoded():
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(wire.WireError):
        wire.encode({"v": deep})
    with pytest.raises(wire.WireError):
        wire.encode({"v": "x" * (wire.MAX_HEADER_BYTES + 1)})


def test_values_that_may_not_cross_are_refused():
    for bad in (np.array([object()]), object(), {1: 2}, np.ma.array([1.0])):
        with pytest.raises(wire.WireError):
            wire.encode({"v": bad})


# -- confinement -------------------------------------------------------------------------------------


@needs_bwrap
def test_worker_sees_neither_the_course_nor_the_network_and_runs_unprivileged(tmp_path):
    path = planted(tmp_path, "layers", f"""
        import os, socket
        def probe(_):
            seen = {{}}
            for name, target in (("course", {str(REPO / "assignments" / A1 / "layers.py")!r}),
                                 ("reference", {str(REPO / "reference" / "layers.py")!r})):
                try:
                    open(target).read()
                    seen[name] = 1.0
                except OSError:
                    seen[name] = 0.0
            try:
                socket.create_connection(("127.0.0.1", 9), timeout=1)
                seen["network"] = 1.0
            except OSError:
                seen["network"] = 0.0
            try:
                open("/opt/dlgrade/submission/{A1}/layers.py", "a").write("# tampered")
                seen["writes_submission"] = 1.0
            except OSError:
                seen["writes_submission"] = 0.0
            seen["uid"] = float(os.getuid())
            return seen
    """)
    with SandboxedSubmission(path) as sub:
        outcome = sub.call(A1, "layers", "probe", [np.zeros(1)])
    assert outcome.error is None, outcome.error
    seen = outcome.value
    assert seen["course"] == seen["reference"] == seen["network"] == seen["writes_submission"] == 0.0
    if __import__("os").getuid() == 0:
        assert int(seen["uid"]) in WORKER_UIDS


def test_a_hung_call_is_stopped_and_the_next_call_gets_a_fresh_worker(tmp_path):
    path = planted(tmp_path, "layers", """
        import signal
        def tanh_forward(x):
            for timer in (signal.SIGALRM, signal.SIGPROF):  # the worker's own timers cannot stop it
                signal.signal(timer, signal.SIG_IGN)
            while True:
                pass
    """)
    with SandboxedSubmission(path, call_timeout=1) as sub:
        forward = sub.call(A1, "layers", "relu_forward", [np.ones(2)], keep=(1,))
        hung = sub.call(A1, "layers", "tanh_forward", [np.ones(2)])
        assert hung.error.kind == "timeout"
        lost = sub.call(A1, "layers", "relu_backward", [np.ones(2), forward.value[1]])
        assert lost.error.kind == "crash" and "lost" in lost.error.message
        assert sub.call(A1, "layers", "relu_forward", [np.ones(2)], keep=(1,)).error is None


def submission_in(mode: str, path: Path, monkeypatch):
    """The submission in `path` behind the call boundary of `mode`: "in-process",
    "worker-alone" (in this process, as the worker runs it), "bwrap" or "landlock"."""
    from dlgrade.grader.boundary.submission import InProcessSubmission

    if mode in ("in-process", "worker-alone"):
        return InProcessSubmission(path, only_student_code=mode == "worker-alone")
    if mode == "bwrap" and bwrap_path() is None:
        pytest.skip("bubblewrap is not installed on this machine")
    if mode == "landlock":
        monkeypatch.setenv("DLGRADE_NO_BWRAP", "1")
    return SandboxedSubmission(path)


@pytest.mark.parametrize("mode", ["worker-alone", "bwrap", "landlock"])
def test_each_call_is_told_whether_it_drew_from_numpy_s_global_random_state(tmp_path, monkeypatch, mode):
    """The worker keeps the global state after one call as the state before the next (nothing
    else runs there): a draw is blamed on the call that made it and never on the next, even
    when that call raised (an error's outcome says nothing of draws); a draw at import time is
    nobody's call's."""
    path = planted(tmp_path, "layers", """
        np.random.rand()  # at import
        def relu_forward(x):
            return np.maximum(x, 0), (x,)
        def tanh_forward(x):
            return np.tanh(x) + 0 * np.random.randn(), (x,)  # a scalar: every second draw is the cached one
        def sigmoid_forward(x):
            np.random.rand()
            raise ValueError("after a draw")
    """)
    losses = path / A1 / "losses.py"
    losses.write_text(losses.read_text() + "\n\nnp.random.rand()  # imported after the calls above\n")
    with submission_in(mode, path, monkeypatch) as sub:
        def drew(function):
            outcome = sub.call(A1, "layers", function, [np.ones(3)])
            return outcome.global_random_used
        assert [drew(f) for f in ("relu_forward", "tanh_forward", "tanh_forward", "tanh_forward", "relu_forward",
                                  "sigmoid_forward", "relu_forward")] == [False, True, True, True, False, False, False]
        # losses.py is imported by this call, after the calls above: its draw is not the call's.
        imported_now = sub.call(A1, "losses", "softmax_loss", [np.ones((2, 3)), np.array([0, 1])])
        assert imported_now.error is None and not imported_now.global_random_used


@pytest.mark.parametrize("mode", ["in-process", "bwrap", "landlock"])
def test_a_batched_backward_is_made_only_on_a_forward_of_the_shapes_it_needs(tmp_path, monkeypatch, mode):
    """A call that requires shapes of the call whose cache it gets is made only where that
    call's first outputs are arrays of exactly those shapes: the student sees the calls that
    the checker, one call after the other, would have made."""
    from dlgrade.grader.boundary.submission import BatchCall, earlier

    path = planted(tmp_path, "layers", """
        CALLS = []
        def relu_forward(x):
            return (np.maximum(x, 0) if x.size < 5 else np.maximum(x, 0)[:-1]), (x,)
        def relu_backward(dout, cache):
            CALLS.append(dout.shape)
            return dout * (cache[0] > 0)
        def tanh_forward(x):
            return np.array(len(CALLS)), None
    """)
    sub = submission_in(mode, path, monkeypatch)

    def pair(n: int, shapes):
        return [BatchCall(A1, "layers", "relu_forward", (np.ones(n),), keep=(1,)),
                BatchCall(A1, "layers", "relu_backward", (np.ones(n), earlier(0)), requires_shapes=shapes)]

    with sub:
        made = sub.call_batch(pair(3, ((3,),)))
        assert made[0].error is None and made[1].error is None
        wrong = sub.call_batch(pair(6, ((6,),)))  # the forward drops a row: the backward is not made
        # (a crash the worker tells of is told in its words only as a detail)
        assert wrong[0].error is None and wrong[1].error.kind == "crash"
        assert "not called" in wrong[1].error.message + wrong[1].error.detail
        unguarded = sub.call_batch(pair(6, None))
        assert unguarded[1].error is None  # without the requirement it is made
        assert int(sub.call(A1, "layers", "tanh_forward", [np.ones(1)]).value[0]) == 2


@pytest.mark.parametrize("mode", ["in-process", "bwrap", "landlock"])
def test_an_update_rule_s_steps_in_one_batch_get_what_the_step_before_returned(tmp_path, monkeypatch, mode):
    """Chained calls: each step is given the (next_w, config) the step before returned, as it
    would be after crossing to the checker and back, and is made only where that step returned
    a step of the shape asked for; a step that only comes after another needs it too."""
    from dlgrade.grader.boundary.submission import BatchCall

    A3 = "a3_optimizers"
    path = planted(tmp_path, "optim", """
        CALLS = []
        def sgd(w, dw, config=None):
            CALLS.append(type(config).__name__)
            config = {"learning_rate": 0.5} if config is None else config
            next_w = w - config["learning_rate"] * dw
            return (next_w if len(CALLS) != 2 else next_w[:1]), config
        def sgd_momentum(w, dw, config=None):
            return np.array(len(CALLS)), {}
    """, assignment=A3)
    sub = submission_in(mode, path, monkeypatch)
    w, dw = np.ones(2), np.full(2, 0.5)

    def step(k: int, position: int = 0):
        links = ((position, k, 0, (2,)), (2, k, 1, (2,))) if position == 0 else ((-1, k, 0, (2,)),)
        return BatchCall(A3, "optim", "sgd", (None, dw, None) if position == 0 else (w, dw), chained=links)

    with sub:
        first, second, third = sub.call_batch([BatchCall(A3, "optim", "sgd", (w, dw)), step(0), step(1)])
        assert first.error is None and np.allclose(first.value[0], 0.75) and first.value[1] == {"learning_rate": 0.5}
        assert second.error is None and second.value[0].shape == (1,)  # the second call drops an item
        assert third.error is not None and "not called" in third.error.message + third.error.detail
        fourth, = sub.call_batch([BatchCall(A3, "optim", "sgd", (w, dw), {"config": {"learning_rate": 1.0}})])
        assert np.allclose(fourth.value[0], 0.5)
        only_after = sub.call_batch([BatchCall(A3, "optim", "sgd", (w, dw)), step(0, position=-1)])
        assert only_after[1].error is None and np.allclose(only_after[1].value[0], 0.75)
        three = (np.ones(3), np.ones(3))  # a run of another shape: each requirement has its own
        mixed = sub.call_batch([BatchCall(A3, "optim", "sgd", three),
                                BatchCall(A3, "optim", "sgd", (w, dw), chained=((-1, 0, 0, (3,)),)),
                                BatchCall(A3, "optim", "sgd", (w, dw), chained=((-1, 0, 0, (2,)),))])
        assert mixed[1].error is None and mixed[2].error is not None
        count = sub.call(A3, "optim", "sgd_momentum", [w, dw]).value[0]
        assert int(count) == 7, "a step was made after a step that was not one"


@pytest.mark.parametrize("mode", ["bwrap", "landlock"])
def test_a_worker_that_answers_more_than_it_was_asked_is_stopped(tmp_path, monkeypatch, mode):
    """A call whose worker sends an answer beyond the one asked for gets a crash verdict and
    the worker is replaced: the extra answer never stands for a later call's."""
    path = planted(tmp_path, "layers", """
        import sys as _sys
        _SENT = []
        def tanh_forward(x):
            frame = _sys._getframe()
            while frame is not None and "answers" not in frame.f_locals:
                frame = frame.f_back
            if frame is not None and not _SENT:
                _SENT.append(1)
                wire = next(m for n, m in _sys.modules.items() if n.endswith("wire") and hasattr(m, "encode"))
                frame.f_locals["answers"].write(wire.encode({"value": (np.full(x.shape, 7.0), None), "error": None}))
                frame.f_locals["answers"].flush()
            return np.tanh(x), (x,)
    """)
    with submission_in(mode, path, monkeypatch) as sub:
        extra = sub.call(A1, "layers", "tanh_forward", [np.zeros(2)])
        assert extra.error is not None and "not asked for" in extra.error.message
        after = sub.call(A1, "layers", "relu_forward", [np.ones(2)])  # a fresh worker: no answer waiting
        assert after.error is None and np.array_equal(after.value[0], np.ones(2))


# -- the same verdicts in and out of the sandbox ------------------------------------------------------


@pytest.mark.parametrize("no_bwrap", [False, True], ids=["bwrap", "limits-only"])
def test_sandboxed_and_in_process_verdicts_agree(tmp_path, monkeypatch, no_bwrap):
    if no_bwrap:
        monkeypatch.setenv("DLGRADE_NO_BWRAP", "1")
    path = planted(tmp_path, "layers", """
        def relu_backward(dout, cache):
            (x,) = cache
            return dout * (x >= 0)
        def tanh_backward(dout, cache):
            (out,) = cache
            return dout * (1 - out)
    """)
    names = ["relu_backward", "tanh_backward", "softmax_loss", "two_layer_net"]
    runs = [run_checks(names, path, "grading", seed=3, sandbox=s)[1] for s in (False, True)]
    as_text = [[(r.name, r.status, r.points, [(p.name, p.passed, p.message, p.hints) for p in r.properties]) for r in rs]
               for rs in runs]
    assert as_text[0] == as_text[1]
    # relu_backward's derivative at exactly 0 is a convention: a minor property of its own.
    assert [r.points for r in runs[1]] == [0.9, 0.0, 3.0, 4.0]


def test_a_forbidden_import_is_a_verdict_in_both_modes(tmp_path):
    path = planted(tmp_path, "losses", "import torch\n")
    for sandbox in (False, True):
        _, results = run_checks(["softmax_loss", "relu_forward"], path, "grading", seed=0, sandbox=sandbox)
        softmax_loss, relu = results
        assert softmax_loss.status == "forbidden" and "imports torch" in softmax_loss.reason
        assert softmax_loss.points == 0 and relu.passed


# -- answers forged on the worker's pipe -----------------------------------------------------------------


FORGER = """
    import fcntl, os, stat, struct
    def forge(data):
        for fd in range(3, 256):
            try:
                if stat.S_ISFIFO(os.fstat(fd).st_mode) and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
            except OSError:
                continue
        return "forged"
"""


def test_forged_answers_on_the_worker_s_pipe_are_that_call_s_verdict(tmp_path):
    """Each forged answer (written by student code straight to the answer pipe, before the real
    one) is a crash of that call, costs the trusted process no memory, and the next call gets a
    fresh worker."""
    path = planted(tmp_path, "layers", FORGER)
    with SandboxedSubmission(path, call_timeout=20) as sub:
        Path("/proc/self/clear_refs").write_text("5")
        start = _peak_rss()
        for name, data in FORGED.items():
            outcome = sub.call(A1, "layers", "forge", [np.frombuffer(data, dtype=np.uint8).copy()])
            assert outcome.error is not None and outcome.error.kind == "crash", (name, outcome)
            after = sub.call(A1, "layers", "relu_forward", [np.array([-1.0, 2.0])], keep=(1,))
            assert after.error is None and after.value[0].tolist() == [0.0, 2.0], (name, after.error)
        growth = _peak_rss() - start
    assert growth < 100 << 20, f"the trusted process's peak memory grew by {growth >> 20} MB"
