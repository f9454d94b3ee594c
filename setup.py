"""Build hook: compile the Go engine into the shared library shipped inside the package.

`pip install .`, `pip install -e .` and `pip wheel .` all run `go build -buildmode=c-shared`
on ./capi. The wheel is platform-specific and needs no Go toolchain to install.
"""

import os
import shutil
import subprocess
import sys

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
LIB = {"darwin": "libriverbed.dylib", "win32": "riverbed.dll"}.get(sys.platform, "libriverbed.so")


def build_engine(out_dir: str) -> None:
    go = shutil.which("go")
    if go is None:
        raise SystemExit(
            "riverbed: building from source needs the Go toolchain (Go 1.24 or newer) on PATH, "
            "to compile the engine (go build -buildmode=c-shared). Install Go from your package "
            "manager, or install a prebuilt riverbed wheel instead."
        )
    os.makedirs(out_dir, exist_ok=True)
    target = os.path.join(out_dir, LIB)
    env = dict(os.environ, CGO_ENABLED="1")
    cmd = [go, "build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s -w", "-o", target, "./capi"]
    print("riverbed: " + " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=HERE, env=env, check=True)
    header = os.path.splitext(target)[0] + ".h"
    if os.path.exists(header):  # cgo's generated header is not the contract (capi/riverbed.h is)
        os.remove(header)


class BuildPyWithEngine(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            build_engine(os.path.join(HERE, "python", "riverbed"))
        else:
            build_engine(os.path.join(self.build_lib, "riverbed"))


class BinaryDistribution(Distribution):
    """The package carries a native library: wheels are platform wheels."""

    def has_ext_modules(self) -> bool:
        return True


if __name__ == "__main__":
    setup(cmdclass={"build_py": BuildPyWithEngine}, distclass=BinaryDistribution)
