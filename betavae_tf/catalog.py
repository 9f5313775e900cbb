"""The library's registries and defaults as one JSON snapshot, readable without TensorFlow.

`load_catalog()` reads `catalog.json` beside this file (JSON only), so the
command line's `--help` and a study's checks answer at once. The snapshot is
made from the library itself by `betavae_tf.cli_catalog.build_catalog`
(`python -m betavae_tf.cli_catalog`); `tests/test_cli_catalog.py` fails when
they differ.
"""

from __future__ import annotations

import functools
import json
import os

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "catalog.json")


@functools.lru_cache(maxsize=1)
def load_catalog() -> dict:
    """The committed catalog (JSON only: no TensorFlow)."""
    with open(PATH, encoding="utf-8") as handle:
        return json.load(handle)
