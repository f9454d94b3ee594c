"""`pip wheel .` builds a platform wheel that carries the engine and runs without Go; a
source build without Go fails with a message that says what is missing."""

import glob
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _path_without_go() -> str:
    go = shutil.which("go")
    dirs = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(d for d in dirs if not go or os.path.dirname(go) != d)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    if shutil.which("go") is None:
        pytest.skip("building a wheel needs Go")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), ROOT],
                   check=True, timeout=900)
    (whl,) = glob.glob(str(out / "riverbed-*.whl"))
    return whl


def test_wheel_is_platform_specific_and_carries_engine(wheel):
    name = os.path.basename(wheel)
    assert not name.endswith("-any.whl"), name
    # The engine is loaded with ctypes, not as an extension module: one wheel serves every Python 3.
    assert "-py3-none-" in name, name
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/WHEEL"))
        tags = [line.split(": ", 1)[1] for line in z.read(meta).decode().splitlines() if line.startswith("Tag: ")]
    assert tags and all(t.startswith("py3-none-") and not t.endswith("-any") for t in tags), tags
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
    assert "riverbed/libriverbed.so" in names or "riverbed/libriverbed.dylib" in names
    assert "riverbed/py.typed" in names


def test_wheel_runs_without_go(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), wheel],
                   check=True, timeout=300)
    code = (
        "import riverbed as rb, os; assert rb.__file__.startswith(os.environ['PYTHONPATH']), rb.__file__;"
        "t = rb.from_pydict({'k': [1, 1, 2]}).group_by('k').agg(rb.count().alias('n')).collect();"
        "print(sorted(t.to_pylist(), key=lambda r: r['k']))"
    )
    env = dict(os.environ, PATH=_path_without_go(), PYTHONPATH=str(target))
    env.pop("RIVERBED_LIBRARY", None)
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[{'k': 1, 'n': 2}, {'k': 2, 'n': 1}]"


def test_source_build_without_go_says_so(tmp_path):
    env = dict(os.environ, PATH=_path_without_go())
    # Run only the engine build step that pip's build backend runs.
    code = f"import runpy; runpy.run_path('setup.py', run_name='setup')['build_engine']({str(tmp_path)!r})"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "needs the Go toolchain" in (r.stdout + r.stderr)
