"""The hand-written header capi/riverbed.h is the contract: a C program compiled against it
alone, linked with the engine library, plans, runs and reads a job and gets clear errors."""

import os
import shutil
import subprocess

import pytest

from riverbed import _lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None, reason="no C compiler")
def test_c_program_against_the_header(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    lib = _lib.library_path()
    exe = tmp_path / "header_test"
    subprocess.run(
        [cc, "-std=c99", "-Wall", "-Werror", "-I", os.path.join(ROOT, "capi"),
         os.path.join(ROOT, "tests", "c", "header_test.c"), lib,
         f"-Wl,-rpath,{os.path.dirname(lib)}", "-o", str(exe)],
        check=True, capture_output=True, text=True)
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"
