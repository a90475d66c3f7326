"""Build hooks: a built distribution (wheel or sdist) holds the released stubs, never a solution.

The instructor's source in `assignments/` keeps its fenced solutions. What a build copies of it
(into the wheel's build folder, or the sdist's release tree) is rewritten by
`strip_to_stubs` of grader/release.py, so a student who installs the package gets the stubs `dlgrade
release` writes. An editable install (`pip install -e .`) reads this checkout itself and keeps
the solutions, for the instructor. Everything else is configured in pyproject.toml.
"""

import importlib.util
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

# This checkout's release module, by its path: the build runs before dlgrade is installed (the
# module imports the rest of the kit only when a function needs it).
_spec = importlib.util.spec_from_file_location("_dlgrade_release", Path(__file__).resolve().parent / "grader" / "release.py")
_release = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_release)
strip_to_stubs = _release.strip_to_stubs


class BuildPyWithStubs(build_py):
    """build_py, then the course modules in the build folder replaced by their stubs."""

    def run(self):
        super().run()
        if not self.editable_mode:  # an editable install maps to the checkout: nothing is copied
            strip_to_stubs(Path(self.build_lib, "dlgrade", "assignments"))


class SdistWithStubs(sdist):
    """sdist, with the course modules of its release tree replaced by their stubs."""

    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        strip_to_stubs(Path(base_dir, "assignments"))


setup(cmdclass={"build_py": BuildPyWithStubs, "sdist": SdistWithStubs})
