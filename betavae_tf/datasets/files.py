"""Finding (and, on request, downloading) the data files of ground-truth datasets.

Shared by `load_shapes3d` and `load_mpi3d`; the rules are those of
`load_dsprites`:

* `path` is the file, or a folder holding it directly or in its subfolder
  (`3dshapes/`, `mpi3d_toy/`, ... as in disentanglement_lib's
  `$DISENTANGLEMENT_LIB_DATA` layout);
* without `path`, the folder named by `BETAVAE_DATA_DIR`.

Nothing is downloaded unless the caller passes `download=True`; then a file
that is not found is fetched with `keras.utils.get_file` into
`<folder>/<subfolder>/<name>`, where `<folder>` is `path`, else
`BETAVAE_DATA_DIR`, else Keras's cache (`~/.keras/datasets`), so later calls
find it without `download=True`. A download is checked against the
SHA-256 given (or the published one, when there is one) and deleted when it
does not match.
"""

from __future__ import annotations

import os

from betavae_tf.datasets.checksums import verify_sha256

DATA_DIR_ENV = "BETAVAE_DATA_DIR"
"""Environment variable naming the data folder when `path` is not given."""

DEFAULT_CACHE_DIR = os.path.join("~", ".keras", "datasets")
"""Where `download=True` saves files when neither `path` nor `BETAVAE_DATA_DIR` is set."""


def _find(root: str, file_name: str, subfolder: str) -> str | None:
    """`root` itself if it is a file, else `root/file_name` or `root/subfolder/file_name`."""
    if os.path.isfile(root):
        return root
    if os.path.isdir(root):
        for candidate in (
            os.path.join(root, file_name),
            os.path.join(root, subfolder, file_name),
        ):
            if os.path.isfile(candidate):
                return candidate
    return None


def download_file(url: str, target: str, sha256: str | None) -> str:
    """Fetches `url` to the file `target` through `keras.utils.get_file`.

    Args:
        url: where to download from.
        target: the file to create; its folder is created when missing.
        sha256: SHA-256 the download must have (it is deleted when it does
            not), or `None` to accept it unchecked.

    Returns:
        The path of the downloaded file (Keras falls back to
        `/tmp/.keras` when the folder is not writable).
    """
    import keras

    folder, name = os.path.split(os.path.abspath(target))
    os.makedirs(folder, exist_ok=True)  # else Keras would fall back to /tmp/.keras
    path = keras.utils.get_file(fname=name, origin=url, cache_dir=folder, cache_subdir="")
    if sha256 is not None:
        verify_sha256(path, sha256, remove=True)
    return path


def locate_data_file(
    path: str | os.PathLike | None,
    *,
    file_name: str,
    subfolder: str,
    what: str,
    url: str,
    download: bool = False,
    sha256: str | None = None,
    published_sha256: str | None = None,
) -> str:
    """The data file to read, downloading it only when asked.

    Args:
        path: the file, a folder holding it (directly or in `subfolder/`),
            or `None` for `BETAVAE_DATA_DIR`.
        file_name: official file name, e.g. `3dshapes.h5`.
        subfolder: folder name it may sit in, e.g. `3dshapes`.
        what: the dataset's name in messages, e.g. `Shapes3D`.
        url: official download address.
        download: fetch the file when it is not found (see module docstring).
        sha256: if given, the file used (found or downloaded) must have it.
        published_sha256: checked on downloads when `sha256` is `None`.

    Returns:
        Path of an existing file (checked against `sha256` when given).

    Raises:
        FileNotFoundError: no file and `download=False`.
        ValueError: the file's SHA-256 is not `sha256` (a download is deleted).
    """
    if not isinstance(download, bool):
        raise ValueError(f"download must be True or False. Received: download={download!r}")
    fix = (
        f"pass the path of {file_name} or set {DATA_DIR_ENV}, or pass download=True "
        f"to fetch it from {url}"
    )
    root = os.fspath(path) if path is not None else (os.environ.get(DATA_DIR_ENV) or None)
    if root is not None:
        found = _find(root, file_name, subfolder)
        if found is not None:
            return verify_sha256(found, sha256) if sha256 is not None else found
    if not download:
        if root is None:
            raise FileNotFoundError(f"No {what} path given and {DATA_DIR_ENV} is unset; {fix}.")
        if os.path.isdir(root):
            raise FileNotFoundError(
                f"No {file_name} in {root!r} or its {subfolder}/ folder; {fix}."
            )
        raise FileNotFoundError(f"No {what} file at {root!r}; {fix}.")
    if root is None:
        root = os.path.expanduser(DEFAULT_CACHE_DIR)
    if not os.path.isdir(root) and os.path.splitext(root)[1] == os.path.splitext(file_name)[1]:
        target = root  # a file path that does not exist yet
    else:
        target = os.path.join(root, subfolder, file_name)
    return download_file(url, target, sha256 if sha256 is not None else published_sha256)
