# setuptools reads pyproject.toml; this file only records, at build time, the
# checkout the package was installed from, so that an installed copy finds
# that checkout's build/libdetector.so (docs/PYTHON.md: the library search).
import os

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


class BuildPy(build_py):
    def run(self):
        super().run()
        # only a real checkout (its header beside it) is recorded
        root = ROOT if os.path.isfile(os.path.join(ROOT, "include", "detector.h")) else None
        out = os.path.join(self.build_lib, "detector", "_checkout.py")
        with open(out, "w") as f:
            f.write("# written by setup.py at install time\nROOT = %r\n" % root)


setup(cmdclass={"build_py": BuildPy})
