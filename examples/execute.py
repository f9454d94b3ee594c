"""Execute the example notebooks with nbclient, optionally saving them with their outputs.

    python examples/execute.py            # run every example, fail on an error
    python examples/execute.py --save     # ... and write the outputs back into the notebooks

feature_pipeline.ipynb needs a Kafka broker: RIVERBED_KAFKA_BROKERS names it (``make
examples`` starts one for the run). The test suite (tests/test_examples.py) runs the same
function and checks the outputs.
"""

from __future__ import annotations

import os
import sys
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
NOTEBOOKS = ["batch_exploration.ipynb", "live_streaming.ipynb", "feature_pipeline.ipynb"]


def execute(name: str, timeout: int = 600) -> Any:
    """The executed notebook (an nbformat node), run in a fresh python3 kernel from this
    directory with the current environment (so the kernel imports the same riverbed).

    Widget state is not kept in the notebook's metadata: riverbed's widgets (the job view's
    buttons) are replaced by static HTML when the job ends, so a saved notebook needs none."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(os.path.join(HERE, name), as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": HERE}},
                            store_widget_state=False)
    client.execute()
    nb.metadata.pop("widgets", None)
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
