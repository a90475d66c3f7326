"""PrairieLearn's external grader: `dlgrade prairielearn build ASSIGNMENT OUT/` writes what a
course repository needs to grade a question with dlgrade, and `run` is what its entrypoint calls.

OUT/ holds:

- `Dockerfile`: the grader image (a slim Python image, bubblewrap, a CPU torch and dlgrade, from
  the wheel put beside it, `--wheel`, or else from the package index at this version). It holds
  no seed: PrairieLearn pulls images from a registry, which may be public.
- `serverFilesCourse/dlgrade/<assignment>/`: copy it into the course repository's
  serverFilesCourse/. It holds `run_grader` (the entrypoint) and the bundle of
  grader.integrations.hosted (`grader.json`, `course_seed`, the assignment's manifest); the
  repository is the course staff's, so the seed stays theirs.
- `info.json`: the `externalGradingOptions` to put in the question's info.json.

PrairieLearn mounts the course's serverFilesCourse files under /grade/serverFilesCourse and the
student's files under /grade/student, runs the entrypoint and reads /grade/results/results.json.
A submission that cannot be graded (nothing graded, a syntax error, a missing file) is
`gradable: false` with `format_errors` (grader.outputs.formats.prairielearn). DLGRADE_PRAIRIELEARN_ROOT
replaces /grade, so that a test runs the real entrypoint against a folder laid out like it.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from dlgrade.grader.integrations import hosted
from dlgrade.grader.outputs.formats import write_json
from dlgrade.grader.outputs.formats.prairielearn import prairielearn_result

ROOT_ENV = "DLGRADE_PRAIRIELEARN_ROOT"

_RUN_GRADER = """#!/usr/bin/env bash
# PrairieLearn's external grader runs this for every submission: it grades /grade/student with
# dlgrade and writes /grade/results/results.json (written by `dlgrade prairielearn build`).
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# -I and the bundle's folder: no file of the submission can stand in for a module the grader imports.
cd "$HERE"
exec python3 -I -m dlgrade.grader.integrations.prairielearn_grader run "$HERE"
"""

_DOCKERFILE = """# The dlgrade grader image for PrairieLearn (written by `dlgrade prairielearn build`).
# Build and push it: docker build -t {image} . && docker push {image}
# It holds no course seed: that stays in the course's serverFilesCourse/.
FROM python:3.11-slim
RUN apt-get update \\
    && apt-get install -y --no-install-recommends bubblewrap \\
    && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu "torch{torch}"
{copy}RUN pip install --no-cache-dir {install}
"""


def build(assignment: str, out: Path, seed: int, assignments_dir: Path | None = None,
          course_release: Path | None = None,
          exercises: list[str] | None = None, timeout: float = 60.0, unconfined: bool = False,
          wheel: Path | None = None, image: str = "COURSE/dlgrade-grader") -> list[Path]:
    """Write PrairieLearn's external-grader setup for `assignment` (its `exercises` only, when
    given) of the course in `assignments_dir` (default: the bundled curriculum; for an
    instructor's course folder, `course_release` is its student version, see hosted.bundle_files) into the folder
    `out`, with the course `seed`; `image`: the image name info.json names. Returns the files
    written. Raises KeyError for an unknown assignment or exercise."""
    from dlgrade.assignments import ASSIGNMENTS_DIR

    config = hosted.GraderConfig(assignment, list(exercises or []), timeout, unconfined)
    hosted.check_config(config)
    folder = f"dlgrade/{assignment}"
    files = {f"serverFilesCourse/{folder}/{name}": entry
             for name, entry in hosted.bundle_files(config, seed, assignments_dir or ASSIGNMENTS_DIR,
                                                    course_release).items()}
    files[f"serverFilesCourse/{folder}/run_grader"] = (_RUN_GRADER.encode(), 0o755)
    torch = hosted.installed_version("torch")
    if wheel is not None:
        files[wheel.name] = (wheel.read_bytes(), 0o644)
        copy, install = f"COPY {wheel.name} /tmp/\n", f"/tmp/{wheel.name}"
    else:
        pinned = hosted.installed_version("dlgrade")
        copy, install = "", f'"dlgrade=={pinned}"' if pinned else "dlgrade"
    files["Dockerfile"] = (_DOCKERFILE.format(image=image, torch=f"=={torch.split('+')[0]}" if torch else "",
                                              copy=copy, install=install).encode(), 0o644)
    options = {"externalGradingOptions": {
        "enabled": True,
        "image": image,
        "serverFilesCourse": [f"{folder}/"],
        "entrypoint": f"/grade/serverFilesCourse/{folder}/run_grader",
        # The sum of the exercises' CPU allowances, and start-up: past it PrairieLearn stops the grader.
        "timeout": int(60 + timeout * max(1, len(_names(config)))),
    }}
    files["info.json"] = (json.dumps(options, indent=2).encode() + b"\n", 0o644)
    return hosted.write_folder(Path(out), files)


def _names(config: hosted.GraderConfig) -> list[str]:
    from dlgrade.checkers.registry import select

    return [e.name for e in select(config.names())]


def run(bundle: Path, root: Path) -> Path:
    """Grade `root`/student with the bundle in the folder `bundle` and write
    `root`/results/results.json; returns that file. Whatever goes wrong, a results.json is
    written (not gradable, saying why)."""
    from dlgrade.grader.grading.engines import error_result

    start = time.perf_counter()
    out = root / "results" / "results.json"
    try:
        config = hosted.GraderConfig.read(bundle)
        hosted.use_bundle_course(bundle)
        result = hosted.grade_folder(root / "student", config, hosted.read_seed(bundle))
    except Exception as e:  # noqa: BLE001 - a broken bundle is the instructor's to see, in the result
        result = {**error_result(f"the grader failed: {type(e).__name__}: {e}"), "name": "submission",
                  "seconds": time.perf_counter() - start}
    write_json(out, prairielearn_result(result))
    print(f"dlgrade: {result['status']}, {result.get('score', 0):g}/{result.get('max_score', 0):g} points")
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "run":
        print("usage: python -m dlgrade.grader.integrations.prairielearn_grader run BUNDLE_FOLDER", file=sys.stderr)
        return 2
    run(Path(argv[1]), hosted.root_from(ROOT_ENV, "/grade"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
