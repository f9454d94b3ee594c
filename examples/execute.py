"""Execute the example notebooks with nbclient, optionally saving them with their outputs.

    python examples/execute.py            # run every example, fail on an error
    python examples/execute.py --save     # ... and write the outputs back into the notebooks

The test suite (tests/test_examples.py) runs the same function and checks the outputs.
"""

from __future__ import annotations

import os
import sys
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
NOTEBOOKS = ["batch_exploration.ipynb", "live_streaming.ipynb"]


def execute(name: str, timeout: int = 600) -> Any:
    """The executed notebook (an nbformat node), run in a fresh python3 kernel from this
    directory with the current environment (so the kernel imports the same riverbed)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(os.path.join(HERE, name), as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": HERE}})
    client.execute()
    return nb


def main(argv: list[str]) -> int:
    import nbformat

    for name in NOTEBOOKS:
        nb = execute(name)
        if "--save" in argv:
            nbformat.write(nb, os.path.join(HERE, name))
        print(f"{name}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
