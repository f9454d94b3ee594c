"""Build hook: compile the Go engine into the shared library shipped inside the package.

`pip install .`, `pip install -e .` and `pip wheel .` all run `go build -buildmode=c-shared`
on ./capi. The wheel is tagged py3-none-<platform> (one wheel for every Python 3: the
engine is loaded with ctypes, not as an extension module) and needs no Go toolchain to install.
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


def wheel_command() -> type | None:
    """bdist_wheel tagging the wheel py3-none-<platform>: the engine is a plain shared library
    loaded with ctypes (no CPython extension module), so one wheel serves every Python 3 on
    a platform. None where no bdist_wheel is importable (then no wheel is being built)."""
    try:  # setuptools >= 70.1 carries bdist_wheel; older ones take it from the wheel package
        from setuptools.command.bdist_wheel import bdist_wheel
    except ImportError:
        try:
            from wheel.bdist_wheel import bdist_wheel  # type: ignore[no-redef]
        except ImportError:
            return None

    class BdistWheelAnyPython(bdist_wheel):  # type: ignore[misc, valid-type]
        def finalize_options(self) -> None:
            super().finalize_options()
            self.root_is_pure = False

        def get_tag(self) -> tuple:
            _, _, plat = super().get_tag()
            return "py3", "none", plat

    return BdistWheelAnyPython


if __name__ == "__main__":
    cmds: dict = {"build_py": BuildPyWithEngine}
    wheel_cmd = wheel_command()
    if wheel_cmd is not None:
        cmds["bdist_wheel"] = wheel_cmd
    setup(cmdclass=cmds, distclass=BinaryDistribution)
