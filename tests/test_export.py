"""Exports of the gradebook, each checked against the fields its consumer documents.

One gradebook is graded once for the module, from real runs of a few a1 exercises:

- alice: the instructor's solutions (everything passes),
- bob: relu_backward returns dout unchanged (a planted bug: fails, with a hint),
- carol: could not be graded at all (status "error"),
- erin: losses.py does not import (softmax_loss is a module error),
- gina: bob's bug graded at the grading profile with examples revealed (its messages carry replay
  commands with the course seed, which no export may show),
- sam: bob's bug at the student profile (replay commands may show).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlgrade.grader.grading.engines import grade_one
from dlgrade.grader.cli import main
from dlgrade.grader.grading.session import run_checks
from dlgrade.grader.outputs.export import export, export_all, load_results
from dlgrade.grader.outputs.formats.classroom import classroom_result
from dlgrade.grader.outputs.formats.feedback import feedback_markdown
from dlgrade.grader.outputs.formats.gradescope import gradescope_result
from dlgrade.grader.outputs.formats.junit import junit_xml
from dlgrade.grader.outputs.formats.prairielearn import prairielearn_result
from dlgrade.grader.grading.gradebook import Gradebook
from helpers import copy_solutions, planted
from dlgrade.grader.outputs.report import to_json

A1 = "a1_backprop"
NAMES = ["relu_forward", "relu_backward", "softmax_loss"]
BUG = "def relu_backward(dout, cache):\n    (x,) = cache\n    return (x > 0) * 1.0\n"
BUG_HINT = "multiplied by dout (chain rule)"  # the hint bob's bug draws


def submission(root: Path, name: str, module: str | None = None, source: str = "") -> Path:
    """A copy of the solutions as `root/name`, with `source` appended to `module` (it overrides)."""
    if module:
        return planted(root / name, module, source)
    copy_solutions(root / name)
    return root / name


def profile_result(path: Path, profile: str, reveal: bool | None = None) -> dict:
    """A gradebook result for relu_backward at another profile (grade_one always uses grading, hidden)."""
    prof, results = run_checks(["relu_backward"], path, profile, seed=0, reveal=reveal)
    result = to_json(results, prof)
    result.update(status="graded", error=None, seconds=0.1, student_seconds=0.0)
    return result


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("submissions")
    db = root / "gradebook.db"
    bug = submission(root, "bob", "layers", BUG)
    with Gradebook(db) as book:
        book.record("alice", grade_one(submission(root, "alice"), NAMES, seed=0, sandbox=False))
        book.record("bob", grade_one(bug, NAMES, seed=0, sandbox=False))
        carol = grade_one(root / "carol", ["no_such_exercise"], seed=0, sandbox=False)
        assert carol["status"] == "error"
        book.record("carol", carol)
        erin = submission(root, "erin", "losses", "def softmax_loss(:\n")
        book.record("erin", grade_one(erin, NAMES, seed=0, sandbox=False))
        book.record("gina", profile_result(bug, "grading", reveal=True))
        book.record("sam", profile_result(bug, "student"))
    return db


@pytest.fixture(scope="module")
def results(db) -> dict[str, dict]:
    return {r["name"]: r for r in load_results(db)}


def test_the_gradebook_is_what_the_tests_assume(results):
    assert results["alice"]["score"] == results["alice"]["max_score"] == 5
    bob = {e["name"]: e for e in results["bob"]["exercises"]}
    assert not bob["relu_backward"]["passed"] and bob["relu_forward"]["passed"]
    assert {e["name"]: e["status"] for e in results["erin"]["exercises"]}["softmax_loss"] == "module_error"
    # gina's messages carry replays with the course seed: the thing the exports must drop
    assert any(p["replay"] for e in results["gina"]["exercises"] for p in e["properties"])
    assert results["gina"]["profile"] == "grading"


# -- CSV -----------------------------------------------------------------------------------------

def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_csv_header_with_points_possible_and_totals(db, tmp_path, results):
    [path] = export(db, "csv", tmp_path / "grades.csv")
    header, *rows = read_csv(path.read_text())
    # the points possible are in the header: every row under it is a submission (none imports
    # into an LMS as a student called "(max points)")
    assert header == ["submission", "relu_forward (max 1)", "relu_backward (max 1)", "softmax_loss (max 3)",
                      "total (max 5)", "percent", "status"]
    by_name = {row[0]: row for row in rows}
    assert set(by_name) == set(results)
    for name, row in by_name.items():
        points = [float(x or 0) for x in row[1:4]]  # blank: no result for that exercise
        assert all(0 <= p <= m for p, m in zip(points, [1, 1, 3]))
        assert float(row[4]) == pytest.approx(sum(points))
        assert float(row[5]) == pytest.approx(100 * float(row[4]) / 5)
        assert row[6] == results[name]["status"]
    assert by_name["alice"][4:] == ["5", "100", "graded"]
    assert by_name["bob"][1:5] == ["1", "0", "3", "4"]
    assert by_name["carol"][1:] == ["", "", "", "0", "0", "error"]
    assert by_name["sam"][1:5] == ["", "0", "", "0"]  # graded on relu_backward alone


# -- Gradescope ----------------------------------------------------------------------------------

def check_gradescope(data: dict) -> None:
    assert set(data) >= {"score", "execution_time", "output", "tests"}
    assert isinstance(data["output"], str) and data["execution_time"] >= 0
    for t in data["tests"]:
        assert set(t) >= {"name", "score", "max_score", "status", "output", "visibility"}
        assert t["status"] in ("passed", "failed") and t["visibility"] == "visible"
        assert 0 <= t["score"] <= t["max_score"]
        assert isinstance(t["output"], str)
    assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]))


def test_gradescope_one_file_per_submission(db, tmp_path, results):
    written = export(db, "gradescope", tmp_path / "gs")
    assert sorted(written) == sorted(tmp_path / "gs" / name / "results.json" for name in results)
    for path in written:
        check_gradescope(json.loads(path.read_text()))
    bob = json.loads((tmp_path / "gs" / "bob" / "results.json").read_text())
    assert bob["score"] == 4
    tests = {t["name"]: t for t in bob["tests"]}
    assert tests["relu_backward"]["status"] == "failed" and tests["relu_forward"]["status"] == "passed"
    assert "vjp_matches_reference" in tests["relu_backward"]["output"]
    assert BUG_HINT in tests["relu_backward"]["output"]
    carol = json.loads((tmp_path / "gs" / "carol" / "results.json").read_text())
    assert carol["score"] == 0 and carol["tests"] == [] and "could not be graded" in carol["output"]


def test_gradescope_named_submission_and_no_secret_replay(db, tmp_path, results):
    [path] = export(db, "gradescope", tmp_path / "results.json", submission="gina")
    data = json.loads(path.read_text())
    check_gradescope(data)
    assert "replay:" not in path.read_text() and "--seed" not in path.read_text()
    assert "replay:" in json.dumps(gradescope_result(results["sam"]))  # student profile: kept


# -- PrairieLearn --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["alice", "bob", "carol", "erin", "gina"])
def test_prairielearn_fields(results, name):
    data = prairielearn_result(results[name])
    assert set(data) >= {"gradable", "score", "message", "tests"}
    assert isinstance(data["gradable"], bool) and isinstance(data["message"], str)
    assert 0 <= data["score"] <= 1
    for t in data["tests"]:
        assert set(t) >= {"name", "points", "max_points", "output", "message"}
        assert 0 <= t["points"] <= t["max_points"]
    # not gradable: nothing graded (carol), a module that does not import (erin's syntax error)
    assert data["gradable"] == (name not in ("carol", "erin"))
    assert ("format_errors" in data) == (not data["gradable"])


def test_prairielearn_scores(db, tmp_path):
    export(db, "prairielearn", tmp_path / "pl")
    score = {n: json.loads((tmp_path / "pl" / n / "results.json").read_text())["score"] for n in ("alice", "bob")}
    assert score == {"alice": 1.0, "bob": 0.8}


# -- GitHub Classroom ----------------------------------------------------------------------------

def check_classroom(data: dict) -> None:
    assert data["version"] == 3 and data["status"] in ("pass", "fail", "error")
    assert isinstance(data["max_score"], (int, float))
    for t in data["tests"]:
        assert set(t) >= {"name", "status", "message", "test_code", "filename", "line_no", "execution_time", "score"}
        assert t["status"] in ("pass", "fail", "error")
        assert (t["message"] is None) == (t["status"] == "pass")


def test_classroom_publishes_to_github_actions(db, tmp_path, monkeypatch):
    output, summary = tmp_path / "github_output", tmp_path / "step_summary"
    output.write_text("earlier=1\n")
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    export(db, "classroom", tmp_path / "classroom.json", submission="bob")
    lines = output.read_text().splitlines()
    assert lines[0] == "earlier=1" and lines[1].startswith("result=")  # appended, not overwritten
    data = json.loads(base64.b64decode(lines[1].removeprefix("result=")))
    assert data == json.loads((tmp_path / "classroom.json").read_text())
    check_classroom(data)
    assert data["status"] == "fail" and data["max_score"] == 5
    assert sum(t["score"] for t in data["tests"]) == 4  # what the reporter totals
    tests = {t["name"]: t for t in data["tests"]}
    assert tests["relu_backward"]["status"] == "fail" and tests["relu_forward"]["status"] == "pass"
    assert tests["relu_backward"]["filename"] == "a1_backprop/layers.py"
    text = summary.read_text()
    assert "| exercise | points | status |" in text and "| relu_backward | 0/1 | fail" in text


def test_classroom_statuses(results):
    assert classroom_result(results["alice"])["status"] == "pass"
    carol = classroom_result(results["carol"])
    check_classroom(carol)
    assert carol["status"] == "error" and "could not be graded" in carol["message"]
    erin = {t["name"]: t for t in classroom_result(results["erin"])["tests"]}
    assert erin["softmax_loss"]["status"] == "error" and erin["relu_forward"]["status"] == "pass"
    assert "replay:" not in json.dumps(classroom_result(results["gina"]))


def test_classroom_needs_one_submission(db, monkeypatch):
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    with pytest.raises(ValueError, match="--submission"):
        export(db, "classroom", "-")


# -- JUnit ---------------------------------------------------------------------------------------

def test_junit(db, tmp_path, results):
    [path] = export(db, "junit", tmp_path / "junit.xml")
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == set(results)
    for name, r in results.items():
        suite = suites[name]
        cases = suite.findall("testcase")
        props = {p.get("name"): p.get("value") for p in suite.find("properties")}
        assert float(props["points"]) == r["score"] and float(props["max_points"]) == r["max_score"]
        if r["status"] == "error":
            assert len(cases) == 1 and cases[0].find("error") is not None
            continue
        assert len(cases) == sum(len(e["properties"]) for e in r["exercises"]) == int(suite.get("tests"))
        for e in r["exercises"]:
            assert float(props[f"points:{e['name']}"]) == e["points"]
            assert float(props[f"max_points:{e['name']}"]) == e["max_points"]
        assert int(suite.get("failures")) == len(suite.findall("testcase/failure"))
    assert suites["alice"].findall("testcase/failure") == [] and suites["alice"].get("failures") == "0"
    failed = {(c.get("classname"), c.get("name")) for c in suites["bob"].findall("testcase")
              if c.find("failure") is not None}
    assert failed == {(e["name"], p["name"]) for e in results["bob"]["exercises"] for p in e["properties"]
                      if p["checked"] and not p["passed"]}
    assert ("relu_backward", "vjp_matches_reference") in failed and {c for c, _ in failed} == {"relu_backward"}
    message = suites["bob"].find("testcase[@name='vjp_matches_reference'][@classname='relu_backward']/failure")
    assert "dx differs from the reference" in message.get("message")
    erin_errors = suites["erin"].findall("testcase[@classname='softmax_loss']/error")
    assert erin_errors and len(erin_errors) == len(suites["erin"].findall("testcase[@classname='softmax_loss']"))
    assert "replay" not in ET.tostring(suites["gina"], encoding="unicode")


def test_junit_skips_properties_blocked_by_an_earlier_failure():
    # Not implemented: runs_on_valid_inputs fails, the rest are not checked: skipped, not failed.
    props = [{"name": "runs_on_valid_inputs", "passed": False, "checked": True, "essential": True,
              "message": "relu_forward is not implemented", "hints": [], "replay": ""},
             {"name": "matches_reference", "passed": False, "checked": False, "essential": True,
              "message": "not checked: not implemented", "hints": [], "replay": ""}]
    result = {"name": "zoe", "status": "graded", "score": 0, "max_score": 1, "profile": "grading", "seed": None,
              "exercises": [{"name": "relu_forward", "assignment": A1, "points": 0, "max_points": 1, "passed": False,
                             "status": "not_implemented", "reason": "", "properties": props}]}
    suite = junit_xml([result]).getroot().find("testsuite")
    assert suite.get("skipped") == "1" and suite.get("failures") == "1"
    assert suite.find("testcase[@name='matches_reference']/skipped") is not None


# -- feedback ------------------------------------------------------------------------------------

def test_feedback_files(db, tmp_path, results):
    written = export(db, "feedback", tmp_path / "fb")
    assert sorted(p.name for p in written) == sorted(f"{n}.md" for n in results)
    bob = (tmp_path / "fb" / "bob.md").read_text()
    assert bob.startswith("# Feedback: bob") and "Score 4/5 (80%)" in bob
    assert "| relu_backward | 0/1 | fail" in bob and "| relu_forward | 1/1 | pass |" in bob
    assert "### ✗ relu_backward" in bob and "vjp_matches_reference" in bob and BUG_HINT in bob
    assert "### ✗ relu_forward" not in bob
    alice = (tmp_path / "fb" / "alice.md").read_text()
    assert "Every exercise passes." in alice and "✗" not in alice
    assert "could not be graded" in (tmp_path / "fb" / "carol.md").read_text()


def test_feedback_never_shows_a_secret_seed(results):
    gina = feedback_markdown(results["gina"])
    assert "relu_backward" in gina and BUG_HINT in gina
    assert "replay:" not in gina and "--seed" not in gina
    assert "replay:" in feedback_markdown(results["sam"])  # student profile: the seed is no secret


# -- everything at once, and the command line -----------------------------------------------------

def test_export_all(db, tmp_path, results):
    export_all(db, tmp_path / "out")
    out = tmp_path / "out"
    assert (out / "gradebook.csv").is_file() and ET.parse(out / "junit.xml").getroot().tag == "testsuites"
    assert {p.name for p in (out / "feedback").iterdir()} == {f"{n}.md" for n in results}
    assert {p.parent.name for p in (out / "gradescope").glob("*/results.json")} == set(results)


def results_names(db) -> list[str]:
    return [r["name"] for r in load_results(db)]


def test_cli_export(db, tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    runner = CliRunner()
    out = tmp_path / "grades.csv"
    result = runner.invoke(main, ["export", "--db", str(db), "--format", "csv", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert [row[0] for row in read_csv(out.read_text())[1:]] == sorted(results_names(db))
    result = runner.invoke(main, ["export", "--db", str(db), "--format", "classroom", "--submission", "alice"])
    assert result.exit_code == 0, result.output
    check_classroom(json.loads(result.stdout))
    result = runner.invoke(main, ["export", "--db", str(db), "--format", "gradescope", "--submission", "bob",
                                  "--out", "-"])
    assert result.exit_code == 0 and json.loads(result.stdout)["score"] == 4
    result = runner.invoke(main, ["export", "--db", str(db), "--format", "feedback", "--submission", "nobody"])
    assert result.exit_code == 2 and "nobody" in result.output
    result = runner.invoke(main, ["export", "--db", str(tmp_path / "missing.db"), "--format", "csv"])
    assert result.exit_code == 2 and not (tmp_path / "missing.db").exists()
