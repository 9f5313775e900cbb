"""SHA-256 verification of data files (downloads and users' own copies).

betavae_tf downloads MNIST by default, through
`keras.datasets.mnist.load_data()`, which passes the SHA-256 of `mnist.npz`
to `keras.utils.get_file` and raises when a download does not match (a
cached copy that does not match is downloaded again). Shapes3D and MPI3D are
downloaded only when asked (`download=True`); a Shapes3D download is checked
against the SHA-256 TensorFlow Datasets publishes (or the `sha256` you
pass), an MPI3D one against the `sha256` you pass (none is published), and
a mismatching download is deleted. Every other data set is read from a path
the user gives; pass the hash you trust (e.g. from the data set's
publisher) to check such a file before it is used.
"""

from __future__ import annotations

import hashlib
import os
import re

_HEX64 = re.compile(r"[0-9a-f]{64}")


def sha256_of(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """The lower-case hex SHA-256 of the file at `path`, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: str | os.PathLike, expected: str, remove: bool = False) -> str:
    """Checks that the file at `path` has the SHA-256 `expected`.

    Args:
        path: the file.
        expected: 64 hex digits (case and surrounding spaces are ignored).
        remove: delete the file when it does not match. Use it for files you
            just downloaded, never for a user's only copy. Defaults to `False`.

    Returns:
        `path` (as a string), when the hash matches.

    Raises:
        ValueError: if `expected` is not a SHA-256 hex digest, or the file's
            hash differs (the message gives both hashes; the file is not
            used, and is deleted when `remove`).
        FileNotFoundError: if there is no file at `path`.
    """
    path = os.fspath(path)
    wanted = str(expected).strip().lower()
    if not _HEX64.fullmatch(wanted):
        raise ValueError(
            f"expected must be a SHA-256 of 64 hex digits. Received: expected={expected!r}"
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No file at {path!r} to verify; check the path.")
    actual = sha256_of(path)
    if actual != wanted:
        removed = ""
        if remove:
            os.remove(path)
            removed = " It was deleted;"
        raise ValueError(
            f"{path!r} has SHA-256 {actual} but {wanted} was expected: the file is "
            f"corrupt, incomplete or not the right one.{removed} download it again "
            "from the official source."
        )
    return path
