"""TensorFlow's start-up chatter, filtered out of the command line's output.

Importing TensorFlow on a machine without a GPU prints, straight from C++
and before its own logging is set up (so `TF_CPP_MIN_LOG_LEVEL` cannot hide
them): `All log messages before absl::InitializeLog() ...`, `oneDNN custom
operations are on ...`, `cudart_stub ... Could not find cuda drivers` and
`failed call to cuInit ... UNKNOWN ERROR (303)`. `import_tensorflow_quietly`
imports TensorFlow and probes its devices with the process's stderr (file
descriptor 2) sent to a temporary file, then writes back every line that is
not one of those, so real errors still show.

Only the command line calls it; importing `betavae_tf` changes nothing.
"""

from __future__ import annotations

import os
import sys
import tempfile

NOISE = (
    "All log messages before absl::InitializeLog() is called",
    "oneDNN custom operations are on",
    "Could not find cuda drivers on your machine",
    "failed call to cuInit",
    "This TensorFlow binary is optimized to use available CPU instructions",
    "To enable the following instructions",
    "Unable to register cuDNN factory",
    "Unable to register cuFFT factory",
    "Unable to register cuBLAS factory",
    "computation_placer.cc",
    "TF-TRT Warning: Could not find TensorRT",
)
"""Substrings of the start-up lines that are dropped."""


def is_noise(line: str) -> bool:
    """Whether `line` is TensorFlow start-up chatter (see `NOISE`)."""
    return any(pattern in line for pattern in NOISE)


def import_tensorflow_quietly() -> None:
    """Imports TensorFlow and probes its devices, keeping only real messages.

    Also sets `TF_CPP_MIN_LOG_LEVEL=2` (TensorFlow's own INFO and WARNING
    logs while running) unless it is already set.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()  # CUDA is probed here
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", errors="replace")
        kept = [line for line in text.splitlines() if line.strip() and not is_noise(line)]
        if kept:
            print("\n".join(kept), file=sys.stderr)
