"""What a worker can reach, in each confinement: the packages its assignment forbids, the course,
other submissions, the network, the seed, the GPUs; and what is left of it after the grader dies.

The attacks themselves are in tests/hostile/ (graded by test_hostile.py); these tests cover what
that harness cannot: a classmate's live sandbox, the seed of a real `dlgrade grade` run, a grader
killed with SIGKILL, the Landlock rules and bubblewrap arguments as data, and refusals of the CLI.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dlgrade.assignments import ASSIGNMENTS_DIR
from dlgrade.checkers.exercise import Context, Exercise, ExerciseResult, PropertyResult
from dlgrade.grader.boundary import sandbox
from dlgrade.grader.cli import main
from dlgrade.grader.grading.session import run_checks
from dlgrade.grader.boundary.sandbox import (SandboxedSubmission, bwrap_arguments, bwrap_path, course_limits,
                            hidden_locations, landlock_abi, landlock_rules)
from helpers import copy_solutions, planted
from test_hostile import CASES, marker, no_process_left, plant, processes_with

A1, A7 = "a1_backprop", "a7_distributed"
REPO = Path(__file__).resolve().parents[1]
MODES = [pytest.param("bubblewrap", marks=pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap is not installed")),
         pytest.param("landlock", marks=pytest.mark.skipif(landlock_abi() < 1, reason="this kernel has no Landlock"))]


def use_mode(mode: str, monkeypatch) -> None:
    if mode == "landlock":
        monkeypatch.setenv("DLGRADE_NO_BWRAP", "1")


# -- forbidden packages and limits come from the assignment graded ---------------------------------


def test_each_assignment_gets_its_own_worker_with_what_it_forbids_hidden(tmp_path):
    """a1 forbids torch, a7 is written in it: in one submission, a1's worker cannot import torch
    even with the import blocker removed, and a7's can."""
    probe = """
        def probe():
            import importlib, sys
            sys.meta_path[:] = [f for f in sys.meta_path if type(f).__module__.startswith(("_frozen", "importlib"))]
            try:
                return str(importlib.import_module("to" + "rch").__version__)
            except BaseException as e:
                return type(e).__name__
    """
    planted(tmp_path, "layers", probe)
    planted(tmp_path, "parallel", probe, assignment=A7)
    with SandboxedSubmission(tmp_path, call_timeout=30) as sub:
        a1 = sub.call(A1, "layers", "probe", [])
        a7 = sub.call(A7, "parallel", "probe", [])
        assert a1.error is None and a1.value in ("ModuleNotFoundError", "PermissionError"), a1
        import torch

        assert a7.error is None and a7.value == torch.__version__, a7


def test_limits_come_from_the_course_manifest_of_the_assignment_graded(tmp_path):
    copy_solutions(tmp_path)
    (tmp_path / A7).mkdir()  # an empty folder of an assignment with a higher process limit
    (tmp_path / A1 / "manifest.toml").write_text("[sandbox]\nprocesses = 1000\nmemory_mb = 100000\n")
    assert course_limits(A1).processes == 16 and course_limits(A7).processes == 64
    with SandboxedSubmission(tmp_path, call_timeout=10) as sub:
        assert sub._worker(A1).limits == course_limits(A1)


def test_forbidden_packages_are_left_out_of_the_landlock_rules_even_through_links():
    torch_location = hidden_locations(["torch"])
    assert torch_location and all(Path(p).name == "torch" for p in torch_location)
    rules = landlock_rules("/runtime", "/submission", "/private-tmp", torch_location)
    for path in rules["read"]:
        real = os.path.realpath(path)
        assert not any(real == t or t.startswith(real.rstrip("/") + "/") for t in torch_location), path
    assert rules["write"] == ["/private-tmp"]


# -- the file system: the course, other submissions, the copies --------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_classmate_s_live_sandbox_and_command_line_are_out_of_reach(mode, tmp_path, monkeypatch):
    """While a classmate's submission is being graded (its copies in the temporary folder, its
    folder on a command line), the attacker finds and reads neither."""
    use_mode(mode, monkeypatch)
    victim = tmp_path / "victim"
    copy_solutions(victim)
    decoy = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "--path", str(victim)])
    mark = marker()
    attacker = plant(tmp_path / "attacker", "read_other_submissions", CASES["read_other_submissions"], mark)
    try:
        with SandboxedSubmission(victim, call_timeout=10) as classmate, \
                SandboxedSubmission(attacker, call_timeout=10) as sub:
            assert classmate.call(A1, "layers", "relu_forward", [np.ones(2)]).error is None
            copies = list(Path(classmate._folder.path).rglob("layers.py"))
            assert copies, "the classmate's copy should exist while it is graded"
            for path in [classmate._folder.path, *copies, *copies[0].parents[:3]]:
                mode_bits = os.stat(path).st_mode & 0o777
                assert not mode_bits & 0o004, f"{path} is readable by others ({oct(mode_bits)})"
            if os.getuid() == 0:
                worker = classmate._current
                # The worker's own copy is its uid's; the staged copy it was made from is the grader's.
                own = [c for c in copies if worker.home in c.parents]
                assert own and all(worker.file_owner is None or os.stat(c).st_uid == worker.file_owner for c in own)
                assert all(os.stat(c).st_uid == 0 for c in copies if c not in own)
            outcome = sub.call(A1, "layers", "relu_forward", [np.array([-1.0, 2.0])])
        assert outcome.error is None and outcome.value[0].tolist() == [-1.0, -1.0], outcome
    finally:
        decoy.kill()
        decoy.wait()
    assert no_process_left(mark) == []


@pytest.mark.parametrize("mode", MODES)
def test_the_worker_writes_only_its_private_temporary_folder_and_it_goes_with_the_worker(mode, tmp_path,
                                                                                       monkeypatch):
    use_mode(mode, monkeypatch)
    outside = tmp_path / "outside.txt"
    path = planted(tmp_path / "sub", "layers", f"""
        import os, tempfile
        def scribble():
            written = []
            for target in ({str(outside)!r}, {str(REPO / "scribble.txt")!r}, "/dev/shm/scribble", "/var/tmp/scribble",
                           os.path.join(tempfile.gettempdir(), "mine.txt")):
                try:
                    with open(target, "w") as f:
                        f.write("x")
                    written.append(target)
                except OSError:
                    pass
            return written
    """)
    with SandboxedSubmission(path, call_timeout=10) as sub:
        outcome = sub.call(A1, "layers", "scribble", [])
        worker = sub._current
        private = worker.home / "tmp"
    assert outcome.error is None, outcome.error
    written = outcome.value
    assert written and all(p.endswith("mine.txt") or (mode == "bubblewrap" and p == "/dev/shm/scribble")
                           for p in written), written
    assert not outside.exists() and not (REPO / "scribble.txt").exists() and not Path("/var/tmp/scribble").exists()
    assert not Path("/dev/shm/scribble").exists() and not private.exists()


def _stale_grader(tmp_path: Path, mark: str) -> subprocess.Popen:
    """A grader process whose worker left a detached grandchild behind, ready to be killed."""
    root = plant(tmp_path / "sub", "surviving_grandchild", CASES["surviving_grandchild"], mark)
    script = textwrap.dedent(f"""
        import sys, time
        import numpy as np
        from dlgrade.grader.boundary.sandbox import SandboxedSubmission
        sub = SandboxedSubmission({str(root)!r}, call_timeout=10)
        assert sub.call("{A1}", "layers", "relu_forward", [np.ones(2)]).error is None
        print(sub._folder.path, flush=True)
        time.sleep(600)
    """)
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPO)


@pytest.mark.parametrize("mode", MODES)
def test_what_a_grader_killed_with_sigkill_leaves_is_removed_at_the_next_start(mode, tmp_path, monkeypatch):
    use_mode(mode, monkeypatch)
    mark = marker()
    grader = _stale_grader(tmp_path, mark)
    folder = Path(grader.stdout.readline().strip())
    assert folder.is_dir()
    grader.send_signal(signal.SIGKILL)
    grader.wait()
    time.sleep(0.5)
    if mode == "landlock":  # bubblewrap's PID namespace ends with the grader; here the grandchild outlives it
        assert any("sleep 1000" in cmdline for _, cmdline, _ in processes_with(mark))
    monkeypatch.setattr(sandbox, "_stale_checked", False)
    copy_solutions(tmp_path / "next")
    with SandboxedSubmission(tmp_path / "next", call_timeout=10):
        assert not folder.exists()
        leftover = processes_with(mark)
    assert leftover == [], leftover
    cgroups = [p for p in Path("/sys/fs/cgroup/unified").glob(f"dlgrade-{folder.name.split('-')[-1]}*")] \
        if Path("/sys/fs/cgroup/unified").is_dir() else []
    assert cgroups == []
    no_process_left(mark)


def test_only_stale_folders_of_our_own_are_removed(tmp_path, monkeypatch):
    """A live grader's folder (its lock held), a folder without our lock (another program's) and a
    link that only looks like ours are kept."""
    monkeypatch.setattr(sandbox, "_private_root", lambda: tmp_path)
    monkeypatch.setattr(sandbox, "_stale_checked", True)
    copy_solutions(tmp_path / "sub")
    live = SandboxedSubmission(tmp_path / "sub", call_timeout=10)
    target = tmp_path / "precious"
    target.mkdir()
    (target / "keep").write_text("x")
    (tmp_path / "dlgrade-sandbox-link").symlink_to(target)
    stale = tmp_path / "dlgrade-sandbox-stale"
    stale.mkdir()
    (stale / "owner.lock").write_text("")
    foreign = tmp_path / "dlgrade-sandbox-foreign"
    foreign.mkdir()
    try:
        sandbox.remove_stale()
        assert live._folder.path.is_dir() and (target / "keep").is_file() and not stale.exists()
        assert foreign.is_dir()
    finally:
        live.close()


# -- the network -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_the_worker_has_no_network_but_a_loopback_of_its_own(mode, tmp_path, monkeypatch):
    use_mode(mode, monkeypatch)
    import socket

    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        path = planted(tmp_path, "layers", f"""
            import socket
            def probe():
                seen = {{}}
                try:
                    socket.create_connection(("127.0.0.1", {port}), timeout=1).close()
                    seen["grader_loopback"] = True
                except OSError:
                    seen["grader_loopback"] = False
                try:
                    seen["interfaces"] = [name for _, name in socket.if_nameindex()]
                except OSError:  # netlink sockets are denied by the seccomp filter
                    seen["interfaces"] = "no netlink"
                try:
                    own = socket.create_server(("127.0.0.1", 0))
                    with socket.create_connection(own.getsockname(), timeout=1):
                        seen["own_loopback"] = True
                except OSError:
                    seen["own_loopback"] = False
                return seen
        """)
        with SandboxedSubmission(path, call_timeout=10) as sub:
            outcome = sub.call(A1, "layers", "probe", [])
    assert outcome.error is None, outcome.error
    seen = outcome.value
    assert seen["grader_loopback"] is False and seen["interfaces"] in (["lo"], "no netlink"), seen
    # An assignment without `loopback = true` in its manifest may make no socket at all.
    assert seen["own_loopback"] is False, seen


@pytest.mark.parametrize("mode", MODES)
def test_the_distributed_tier_s_process_groups_run_on_a_loopback_of_their_own(mode, monkeypatch):
    """The a7 ranks talk TCP (gloo) on the worker's own loopback: the course's ring passes in the
    sandbox, in each confinement (the seccomp filter once denied the netlink socket gloo needs)."""
    use_mode(mode, monkeypatch)
    _, results = run_checks(["ring_allreduce"], ASSIGNMENTS_DIR, "student", seed=0, sandbox=True)
    (ring,) = results
    assert ring.points == ring.max_points, [p.message for p in ring.properties if not p.passed]


# -- the seed ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_the_course_seed_is_readable_by_no_process_of_a_grading_run(mode, tmp_path, monkeypatch):
    """`dlgrade grade` with the seed in a file and in the environment: the hostile submission that
    searches every process's command line and environment finds nothing, and no process of the
    run shows the seed on its command line."""
    use_mode(mode, monkeypatch)
    seed = str(900_000_000 + os.getpid())
    seed_file = tmp_path / "seed"
    seed_file.write_text(seed)
    seed_file.chmod(0o600)
    subs = tmp_path / "subs"
    plant(subs / "searcher", "seed_search", CASES["seed_search"], marker())
    # One route per confinement (both are covered, at half the cost).
    routes = {"bubblewrap": ("file", ["--seed-file", str(seed_file)], {}),
              "landlock": ("environment", [], {"DLGRADE_COURSE_SEED": seed})}
    for how, args, env in [routes[mode]]:
        db = tmp_path / f"{how}.sqlite"
        run = subprocess.Popen([sys.executable, "-m", "dlgrade.grader.cli", "grade", str(subs), "--db", str(db), "-a", "relu_forward",
                                "--jobs", "1", "--timeout", "5", "--no-progress", *args],
                               env={**os.environ, **env}, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
        shown = set()
        while run.poll() is None:
            for entry in Path("/proc").iterdir():
                # The command's own initial environment holds what it was given (only its own user
                # can read it); nothing it starts may inherit it.
                files = ("cmdline",) if entry.name == str(run.pid) else ("cmdline", "environ")
                for name in files:
                    try:
                        if seed.encode() in (entry / name).read_bytes():
                            shown.add((entry.name, name))
                    except OSError:
                        continue
            time.sleep(0.05)
        output = run.stdout.read()
        assert run.returncode == 0, output
        assert not shown, shown
        from dlgrade.grader.grading.gradebook import Gradebook

        with Gradebook(db) as book:
            (result,) = book.results()
        assert result["score"] == 0.0, (how, result)
        assert "--seed is visible" not in output


def test_the_nbgrader_cell_passes_the_seed_through_a_pipe(tmp_path, monkeypatch):
    from dlgrade.grader.integrations import nbgrader_bridge

    seen = {}

    def fake_run(command, **kwargs):
        seen.update(command=command, env=kwargs.get("env"), fds=kwargs.get("pass_fds"))
        fd = int(command[command.index("--seed-file") + 1].rsplit("/", 1)[1])
        seen["piped"] = os.read(fd, 100).decode()
        for entry in json.loads(Path(command[3]).read_text()):  # the plan: what to check, where to write
            Path(entry["json"]).write_text(json.dumps({"exercises": [{"name": "mse_loss", "passed": True,
                                                                      "points": 1.0, "max_points": 1.0}]}))
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setenv("DLGRADE_COURSE_SEED", "424242")
    monkeypatch.setattr(nbgrader_bridge.subprocess, "run", fake_run)
    monkeypatch.setattr(nbgrader_bridge, "_checked", {})
    monkeypatch.chdir(tmp_path)
    assert nbgrader_bridge.points_earned("mse_loss") == 1.0
    assert seen["piped"] == "424242"
    assert not any("424242" in part for part in seen["command"])
    assert "DLGRADE_COURSE_SEED" not in seen["env"] and not any("424242" in v for v in seen["env"].values())


def test_the_cli_takes_the_seed_out_of_the_environment_and_says_when_it_is_visible(tmp_path, monkeypatch):
    runner = CliRunner(mix_stderr=False) if "mix_stderr" in CliRunner.__init__.__code__.co_varnames else CliRunner()
    copy_solutions(tmp_path)
    monkeypatch.setenv("DLGRADE_COURSE_SEED", "31337")
    result = runner.invoke(main, ["check", "relu_forward", "--path", str(tmp_path), "--profile", "grading",
                                  "--no-sandbox", "--reveal"])
    assert result.exit_code == 0, result.output
    assert "seed 31337" in result.output and "DLGRADE_COURSE_SEED" not in os.environ
    monkeypatch.delenv("DLGRADE_COURSE_SEED", raising=False)
    visible = runner.invoke(main, ["check", "relu_forward", "--path", str(tmp_path), "--profile", "grading",
                                   "--no-sandbox", "--seed", "5"])
    assert "--seed is visible" in (visible.stderr if hasattr(visible, "stderr") else visible.output)
    seed_file = tmp_path / "seed"
    seed_file.write_text("5\n")
    seed_file.chmod(0o644)
    readable = runner.invoke(main, ["check", "relu_forward", "--path", str(tmp_path), "--profile", "grading",
                                    "--no-sandbox", "--seed-file", str(seed_file)])
    assert readable.exit_code == 2 and "readable by others" in readable.output


def test_grading_with_the_public_seed_or_unconfined_is_refused_unless_asked_for(tmp_path, monkeypatch):
    copy_solutions(tmp_path / "subs" / "one")
    runner = CliRunner()
    db = str(tmp_path / "g.sqlite")
    public = runner.invoke(main, ["grade", str(tmp_path / "subs"), "--db", db, "-a", "relu_forward", "--no-progress"])
    assert public.exit_code == 2 and "no course seed" in public.output
    monkeypatch.setenv("DLGRADE_NO_BWRAP", "1")
    monkeypatch.setenv("DLGRADE_NO_LANDLOCK", "1")
    bare = runner.invoke(main, ["grade", str(tmp_path / "subs"), "--db", db, "-a", "relu_forward", "--no-progress",
                                "--seed", "7"])
    assert bare.exit_code == 1 and "neither bubblewrap nor Landlock" in bare.output
    assert "read every file" in bare.output and "--unconfined" in bare.output


# -- the GPU tier ----------------------------------------------------------------------------------------


def test_the_gpu_tier_binds_the_nvidia_devices_and_nothing_else_does():
    nodes = ["/dev/nvidia0", "/dev/nvidia1", "/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-modeset"]
    with_gpus = bwrap_arguments("bwrap", "/rt", "/sub", [], 1 << 20, nodes)
    without = bwrap_arguments("bwrap", "/rt", "/sub", [], 1 << 20, [])
    pairs = list(zip(with_gpus, with_gpus[1:], with_gpus[2:]))
    for node in nodes:
        assert ("--dev-bind", node, node) in pairs
    assert ("--ro-bind-try", "/sys/module/nvidia", "/sys/module/nvidia") in pairs
    assert "--dev-bind" not in without and "/sys/bus/pci" not in without
    # The devices are bound after the fresh /dev that would hide them.
    assert with_gpus.index("--dev") < with_gpus.index("--dev-bind")
    assert course_limits(A7).gpus and not course_limits(A1).gpus
    landlock = landlock_rules("/rt", "/sub", "/tmp/x", [], nodes)
    assert set(nodes) <= set(landlock["devices"]) and "/proc/driver/nvidia" in landlock["read"]


class _NoWorker:
    """A submission whose student side must not be asked anything."""

    def __init__(self, gpus: int):
        self.gpus = gpus

    def gpu_count(self, assignment: str) -> int:
        return self.gpus

    def call(self, *args, **kwargs):
        raise AssertionError("the student's worker was asked about the machine")


def test_whether_gpu_properties_run_is_decided_by_the_trusted_side():
    from dlgrade.checkers.specs.a7_distributed import needs_gpus

    exercise = Exercise("allreduce", A7, "parallel", "", [], None)
    assert needs_gpus(1)(Context(exercise, _NoWorker(0))).startswith("needs 1 CUDA GPU")
    assert needs_gpus(2)(Context(exercise, _NoWorker(1))).startswith("needs 2 CUDA GPUs")
    assert needs_gpus(2)(Context(exercise, _NoWorker(2))) is None


def test_an_exercise_of_which_nothing_ran_earns_nothing():
    skipped = [PropertyResult(n, False, "skipped: needs 1 CUDA GPU", checked=False, skipped=True) for n in "ab"]
    result = ExerciseResult("on_gpu_only", A7, 3.0, skipped)
    assert result.points == 0.0 and not result.passed


def test_the_sandbox_passes_no_gpu_where_the_machine_has_none_or_the_tier_is_not_the_gpu_tier(tmp_path):
    copy_solutions(tmp_path)
    with SandboxedSubmission(tmp_path, call_timeout=10) as sub:
        assert sub.gpu_count(A1) == 0
        if not sandbox.gpu_devices():
            assert sub.gpu_count(A7) == 0
