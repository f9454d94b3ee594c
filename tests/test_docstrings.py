"""Every public function, method and property of riverbed has a docstring with a runnable
example, and the test suite runs those examples as doctests (pytest --doctest-modules over
python/riverbed, set in pyproject.toml)."""

from __future__ import annotations

import doctest
import inspect
import os
import sys
from collections.abc import Iterator
from typing import Any

import riverbed as rb
from riverbed import expr

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Public classes reached from the API but not exported by name: the expression namespaces
# (col("s").str, col("ts").dt) and the when/then chain.
_REACHABLE = [expr.StringNamespace, expr.DateTimeNamespace, expr.When, expr.Then]


def _public_callables() -> Iterator[tuple[str, Any]]:
    """(qualified name, function) of every public function, method, static or class method
    and property, each once (at the class that defines it, which may be a private base of a
    public class, as the state handles' ``clear``)."""
    classes = []
    for name in rb.__all__:
        obj = getattr(rb, name)
        if inspect.isfunction(obj):
            yield f"riverbed.{name}", obj
        elif inspect.isclass(obj) and not issubclass(obj, (BaseException, Warning)):
            classes.append(obj)
    seen = set()
    for public in classes + _REACHABLE:
        for cls in public.__mro__:
            if not cls.__module__.startswith("riverbed") or cls in seen:
                continue
            seen.add(cls)
            for name, v in vars(cls).items():
                if name.startswith("_"):
                    continue
                if isinstance(v, (staticmethod, classmethod)):
                    fn = v.__func__
                else:
                    fn = v.fget if isinstance(v, property) else v
                if inspect.isfunction(fn):
                    yield f"{cls.__module__}.{fn.__qualname__}", fn


def test_every_public_function_and_method_has_a_runnable_example():
    parser = doctest.DocTestParser()
    found = list(_public_callables())
    assert len(found) > 150  # the enumeration itself works (Stream, Expr, Job, ... are in it)
    missing = [name for name, fn in found if not parser.get_examples(inspect.getdoc(fn) or "")]
    assert not missing, "public functions without a runnable example in their docstring:\n  " + "\n  ".join(missing)


def test_the_examples_run_as_doctests_in_the_suite():
    # pytest collects python/riverbed with --doctest-modules (pyproject.toml), so each example
    # above is a test; check the settings that make it so.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        opts = tomllib.load(f)["tool"]["pytest"]["ini_options"]
    assert "python/riverbed" in opts["testpaths"]
    assert "--doctest-modules" in opts["addopts"].split()
    # and every example sits where the doctest finder looks: in a module of the package
    finder = doctest.DocTestFinder()
    names = set()
    for mod in {inspect.getmodule(fn) for _, fn in _public_callables()}:
        names |= {t.name for t in finder.find(mod) if t.examples}
    for name, fn in _public_callables():
        assert any(n.endswith("." + fn.__qualname__) for n in names), name
