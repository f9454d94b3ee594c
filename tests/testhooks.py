"""Tests that use the engine's test hooks (rb_debug_panic, the plan function debug_panic) run
on the test build of the library, which `make test` builds and points RIVERBED_LIBRARY at."""

import pytest

from riverbed import _lib


def require_test_hooks() -> None:
    if not hasattr(_lib.lib(), "rb_debug_panic"):
        pytest.skip("needs the test build of the engine library (make test builds it and sets RIVERBED_LIBRARY)")
