"""Gradescope's autograder: `dlgrade gradescope build ASSIGNMENT OUT.zip` writes the zip that a
Gradescope programming assignment is configured with, and `run` is what its run_autograder calls.

The zip (unpacked by Gradescope into /autograder/source) holds:

- `setup.sh`: run once when Gradescope builds the image (Ubuntu, as root): `apt-get update`, then
  bubblewrap and Python, a virtual environment at /autograder/dlgrade-venv with a CPU torch and
  dlgrade, from the wheel shipped in the zip (`--wheel`) or else from the package index at this
  version (`dlgrade==X.Y.Z`);
- `run_autograder`: run for each submission: grades /autograder/submission as the release at the
  grading profile with the course seed kept in the zip, and writes /autograder/results/results.json;
- the bundle of grader.integrations.hosted: `grader.json`, `course_seed`, `course/<assignment>/`.

The seed is read by the grading process only: students' code runs in the sandbox, which does not
show /autograder/source, and no result or printed line holds it (the grading profile's messages
withhold the hidden examples and drop replay commands). DLGRADE_GRADESCOPE_ROOT replaces
/autograder, so that a test runs the real run_autograder against a folder laid out like it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from dlgrade.grader.integrations import hosted
from dlgrade.grader.outputs.formats import write_json
from dlgrade.grader.outputs.formats.gradescope import autograder_result

ROOT_ENV = "DLGRADE_GRADESCOPE_ROOT"
VENV = "dlgrade-venv"  # under the root

_RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission. It grades /autograder/submission with dlgrade and
# writes /autograder/results/results.json (written by `dlgrade gradescope build`).
set -u
ROOT="${DLGRADE_GRADESCOPE_ROOT:-/autograder}"
if [ ! -x "$ROOT/dlgrade-venv/bin/python" ]; then
  # setup.sh did not finish: say so in the result rather than leave none.
  mkdir -p "$ROOT/results"
  echo '{"score": 0, "output": "The autograder is not installed (setup.sh failed): tell your instructor.", "tests": []}' \
    > "$ROOT/results/results.json"
  exit 0
fi
# -I and a folder of the bundle: no file of the submission can stand in for a module the grader imports.
cd "$ROOT/source"
exec "$ROOT/dlgrade-venv/bin/python" -I -m dlgrade.grader.integrations.gradescope_autograder run
"""

_SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu).
# Written by `dlgrade gradescope build`; dlgrade comes from {source}.
set -euo pipefail
cd /autograder/source
export DEBIAN_FRONTEND=noninteractive
apt-get update
# bubblewrap confines the students' code; without it (or Landlock) nothing is graded.
apt-get install -y --no-install-recommends bubblewrap python3 python3-venv python3-pip
python3 -m venv /autograder/{venv}
/autograder/{venv}/bin/pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu "torch{torch}"
/autograder/{venv}/bin/pip install --no-cache-dir {install}
chmod 600 /autograder/source/course_seed
"""


def install_line(wheel: Path | None) -> tuple[str, str, dict[str, tuple[bytes, int]]]:
    """(what pip installs dlgrade from, the words that say so, the files it needs in the bundle)."""
    if wheel is not None:
        return f"/autograder/source/dist/{wheel.name}", f"the wheel shipped in the zip (dist/{wheel.name})", \
            {f"dist/{wheel.name}": (wheel.read_bytes(), 0o644)}
    pinned = hosted.installed_version("dlgrade")
    requirement = f"dlgrade=={pinned}" if pinned else "dlgrade"
    return f'"{requirement}"', f"the package index ({requirement})", {}


def build(assignment: str, out: Path, seed: int, assignments_dir: Path | None = None,
          course_release: Path | None = None,
          exercises: list[str] | None = None, visibility: str = "after_due_date",
          stdout_visibility: str = "hidden", timeout: float = 60.0, unconfined: bool = False,
          wheel: Path | None = None) -> Path:
    """Write Gradescope's autograder zip for `assignment` (its `exercises` only, when given) of the
    course in `assignments_dir` (default: the bundled curriculum; for an
    instructor's course folder, `course_release` is its student version, see hosted.bundle_files) to `out`, with the course
    `seed`. visibility: of the per-property tests; stdout_visibility: of what the grader prints.
    wheel: a dlgrade wheel to ship and install (default: dlgrade of this version from the index).
    Raises KeyError for an unknown assignment or exercise, ValueError for an unknown visibility."""
    from dlgrade.assignments import ASSIGNMENTS_DIR
    from dlgrade.grader.outputs.formats.gradescope import VISIBILITIES

    for value in (visibility, stdout_visibility):
        if value not in VISIBILITIES:
            raise ValueError(f"unknown Gradescope visibility {value!r}: one of {', '.join(VISIBILITIES)}")
    config = hosted.GraderConfig(assignment, list(exercises or []), timeout, unconfined,
                                 {"visibility": visibility, "stdout_visibility": stdout_visibility})
    hosted.check_config(config)
    install, source, extra = install_line(wheel)
    torch = hosted.installed_version("torch")
    setup = _SETUP.format(source=source, venv=VENV, install=install,
                          torch=f"=={torch.split('+')[0]}" if torch else "")
    files = hosted.bundle_files(config, seed, assignments_dir or ASSIGNMENTS_DIR, course_release)
    files.update(extra)
    files["setup.sh"] = (setup.encode(), 0o755)
    files["run_autograder"] = (_RUN_AUTOGRADER.encode(), 0o755)
    return hosted.write_zip(Path(out), files)


def run(root: Path) -> Path:
    """Grade `root`/submission with the bundle in `root`/source and write
    `root`/results/results.json; returns that file. Whatever goes wrong, a results.json is
    written (score 0, saying why), so Gradescope never shows a bare "autograder failed"."""
    from dlgrade.grader.grading.engines import error_result

    start = time.perf_counter()
    source, out = root / "source", root / "results" / "results.json"
    visibility, stdout_visibility = "after_due_date", "hidden"
    try:
        config = hosted.GraderConfig.read(source)
        visibility = config.options.get("visibility", visibility)
        stdout_visibility = config.options.get("stdout_visibility", stdout_visibility)
        hosted.use_bundle_course(source)
        result = hosted.grade_folder(root / "submission", config, hosted.read_seed(source))
    except Exception as e:  # noqa: BLE001 - a broken bundle is the instructor's to see, in the result
        result = {**error_result(f"the autograder failed: {type(e).__name__}: {e}"), "name": "submission",
                  "seconds": time.perf_counter() - start}
    write_json(out, autograder_result(result, visibility, stdout_visibility))
    print(f"dlgrade: {result['status']}, {result.get('score', 0):g}/{result.get('max_score', 0):g} points "
          f"({len(result.get('exercises', []))} exercises)")
    return out


def main(argv: list[str]) -> int:
    if argv != ["run"]:
        print("usage: python -m dlgrade.grader.integrations.gradescope_autograder run", file=sys.stderr)
        return 2
    run(hosted.root_from(ROOT_ENV, "/autograder"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
