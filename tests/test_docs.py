"""The examples in docstrings run (doctest)."""

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "module",
    ["betavae_tf", "betavae_tf.layers", "betavae_tf.models", "betavae_tf.schedules",
     "betavae_tf.presets", "betavae_tf.datasets.dsprites", "betavae_tf.optimizers",
     "betavae_tf.runs"],
)
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
