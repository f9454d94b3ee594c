"""The riverbed exception hierarchy.

Every error the engine reports has a kind; each kind maps to exactly one class here. All of
them derive from :class:`RiverbedError`, so ``except rb.RiverbedError`` catches everything
riverbed raises on purpose.
"""

from __future__ import annotations


class RiverbedError(Exception):
    """Base class of every error riverbed raises."""


class InternalError(RiverbedError):
    """A bug in riverbed (including a recovered Go panic). Please report it."""


class PlanError(RiverbedError, ValueError):
    """The pipeline is malformed: an unknown operator or function, a bad argument."""


class ColumnNotFoundError(PlanError, KeyError):
    """An expression names a column the input does not have."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class TypeMismatchError(PlanError, TypeError):
    """An expression or aggregation is applied to a column of the wrong type."""


class SchemaError(RiverbedError):
    """Schemas do not fit together, e.g. files of one dataset with different columns."""


class InputNotFoundError(RiverbedError, FileNotFoundError):
    """A path, directory or glob matched no input file."""


class DataError(RiverbedError):
    """Input data is corrupt or cannot be converted (the message names file and place)."""


class StorageError(RiverbedError, OSError):
    """Reading or writing storage failed, or an output directory is not usable."""


class CancelledError(RiverbedError):
    """The job was cancelled."""


class UserFunctionError(RiverbedError):
    """A user's Python function raised; the original exception is chained as the cause."""


class InvalidArgumentError(RiverbedError, ValueError):
    """A bad argument reached the engine's C interface."""


class LateRowsWarning(UserWarning):
    """Rows were dropped as late (behind the watermark), or for a null event time.

    Only streaming runs drop late rows (``runtime_mode="streaming"``, or an unbounded
    source); read them with ``.late()`` on a window result, or run with
    ``runtime_mode="batch"`` to have every row counted."""


_BY_STATUS: dict[int, type[RiverbedError]] = {
    1: InternalError,
    2: PlanError,
    3: ColumnNotFoundError,
    4: TypeMismatchError,
    5: SchemaError,
    6: InputNotFoundError,
    7: DataError,
    8: StorageError,
    9: CancelledError,
    10: UserFunctionError,
    11: InvalidArgumentError,
}


def error_for_status(status: int, message: str) -> RiverbedError:
    """Build the exception for an engine status code. A user function's error carries the
    original Python exception (with its traceback) as its cause."""
    cls = _BY_STATUS.get(status, InternalError)
    err = cls(message)
    if cls is UserFunctionError:
        from .udf import original_error

        orig = original_error(message)
        if orig is not None:
            err.__cause__ = orig
    return err


__all__ = [
    "RiverbedError",
    "InternalError",
    "PlanError",
    "ColumnNotFoundError",
    "TypeMismatchError",
    "SchemaError",
    "InputNotFoundError",
    "DataError",
    "StorageError",
    "CancelledError",
    "UserFunctionError",
    "InvalidArgumentError",
    "LateRowsWarning",
]
