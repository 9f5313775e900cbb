"""MPI3D (toy, realistic, real), memory-mapped from the official `.npz` files.

Each file (https://github.com/rr-learning/disentanglement_dataset) is an
`.npz` with one array, `images`: uint8 `(1036800, 64, 64, 3)` (12.7 GB), all
combinations of 7 factors in mixed-radix order (vertical_axis fastest):

================ ==== ==================================================
factor           size values
================ ==== ==================================================
object_color     6    white, green, red, blue, brown, olive
object_shape     6    cone, cube, cylinder, hexagonal, pyramid, sphere
object_size      2    small, large
camera_height    3    top, center, bottom
background_color 3    purple, sea green, salmon
horizontal_axis  40   0 .. 39
vertical_axis    40   0 .. 39
================ ==== ==================================================

The first (2019) releases, which disentanglement_lib's `mpi3d.py` reads for
`mpi3d_toy` and `mpi3d_realistic`, hold 460,800 images with 4 colours and 4
shapes; a file of that length gets `FACTOR_SIZES_460800`.

The official files are written by `np.savez`, which stores members
uncompressed, so `load_mpi3d` memory-maps `images` straight from the zip
(the member's data offset is read from its local header) and nothing is
read until `MPI3D.images` asks for some indices. A compressed member (a file
re-saved with `np.savez_compressed`) cannot be mapped: `load_mpi3d` refuses
it with a one-line error unless `in_memory=True`, which loads every image.
"""

from __future__ import annotations

import mmap
import os
import struct
import zipfile
import zlib

import numpy as np

from betavae_tf.datasets.arrays import _numpy_read_errors, _one_line
from betavae_tf.datasets.files import locate_data_file
from betavae_tf.datasets.grid import FactorGridImages

MPI3D_VARIANTS = ("toy", "realistic", "real")

MPI3D_URLS = {
    variant: f"https://huggingface.co/datasets/waleedgondal/mpi3d/resolve/main/mpi3d_{variant}.npz"
    for variant in MPI3D_VARIANTS
}
"""The download links of the dataset's README (rr-learning/disentanglement_dataset,
updated 2025-04-17; until 2024 they were under
`https://storage.googleapis.com/disentanglement_dataset/Final_Dataset/`). No
checksum is published for these files: pass `sha256` to check yours."""

FACTOR_NAMES = (
    "object_color",
    "object_shape",
    "object_size",
    "camera_height",
    "background_color",
    "horizontal_axis",
    "vertical_axis",
)
FACTOR_SIZES = (6, 6, 2, 3, 3, 40, 40)
FACTOR_SIZES_460800 = (4, 4, 2, 3, 3, 40, 40)
_KNOWN_SIZES = {int(np.prod(s)): s for s in (FACTOR_SIZES, FACTOR_SIZES_460800)}


def _check_factor_sizes(factor_sizes, n: int, source: str) -> tuple[int, ...]:
    if factor_sizes is None:
        if n not in _KNOWN_SIZES:
            raise ValueError(
                f"{source} holds {n} images, not the 1036800 (or 460800) of an MPI3D file; "
                "pass factor_sizes (7 sizes whose product is the number of images)."
            )
        return _KNOWN_SIZES[n]
    sizes = tuple(factor_sizes)
    if (
        len(sizes) != len(FACTOR_NAMES)
        or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in sizes)
        or int(np.prod(sizes, dtype=np.int64)) != n
    ):
        raise ValueError(
            f"factor_sizes must be {len(FACTOR_NAMES)} integers >= 1 whose product is the "
            f"{n} images of {source}. Received: factor_sizes={factor_sizes!r}"
        )
    return tuple(int(s) for s in sizes)


class MPI3D(FactorGridImages):
    """MPI3D images held in a (usually memory-mapped) uint8 array.

    `images` reads just the requested images from `raw_images`, in
    increasing index order, and converts them to float32 in [0, 1].
    Pickling a memory-mapped `MPI3D` keeps the file name and offset, not
    the data, so copies in other processes map the file again.

    Attributes:
        raw_images: uint8 `(n, 64, 64, 3)`, an `np.memmap` when loaded
            lazily.
        variant: `"toy"`, `"realistic"`, `"real"` or `None`.

    Args:
        raw_images: uint8 array `(n, H, W, 3)` in mixed-radix factor order.
        factor_sizes: sizes of the 7 factors. Defaults to `FACTOR_SIZES`
            for 1,036,800 images and `FACTOR_SIZES_460800` for 460,800;
            any other length (a reduced test file) needs them.
        variant: which MPI3D file the images come from, for reference.
        source: how the images are named in error messages.
    """

    def __init__(
        self,
        raw_images: np.ndarray,
        factor_sizes: tuple[int, ...] | None = None,
        variant: str | None = None,
        source: str = "arrays",
    ):
        shape, dtype = getattr(raw_images, "shape", ()), getattr(raw_images, "dtype", None)
        if dtype != np.uint8 or len(shape) != 4 or shape[-1] != 3:
            raise ValueError(
                f"{source} has images {shape} of {dtype}; expected uint8 (n, 64, 64, 3) as in "
                "the official MPI3D files, download it again."
            )
        sizes = _check_factor_sizes(factor_sizes, int(shape[0]), source)
        super().__init__(sizes, FACTOR_NAMES, shape[1:])
        self.raw_images = raw_images
        self.variant = variant

    def _read_sorted(self, indices: np.ndarray) -> np.ndarray:
        if indices[-1] - indices[0] + 1 == len(indices):  # one contiguous run
            return self.raw_images[int(indices[0]) : int(indices[-1]) + 1]
        return self.raw_images[indices]

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        images = self.raw_images
        if isinstance(images, np.memmap) and isinstance(images.base, mmap.mmap):  # not a view
            state["raw_images"] = ("memmap", images.filename, images.offset, images.shape)
        return state

    def __setstate__(self, state: dict) -> None:
        images = state["raw_images"]
        if isinstance(images, tuple) and images[:1] == ("memmap",):
            _, filename, offset, shape = images
            state["raw_images"] = np.memmap(filename, np.uint8, "r", offset=offset, shape=shape)
        self.__dict__.update(state)


def _read_npy_header(handle, path: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """`(shape, fortran_order, dtype)` of the `.npy` stream at `handle`'s position."""
    try:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(handle)
        if version == (2, 0):
            return np.lib.format.read_array_header_2_0(handle)
        raise ValueError(f"unsupported .npy format version {version}")
    except (ValueError, OSError, EOFError, zlib.error) as error:
        raise ValueError(
            f"Could not read the images header of {path!r} ({_one_line(error)}); the file is "
            "corrupt or truncated, download it again."
        ) from None


def _stored_member_offset(path: str, info: zipfile.ZipInfo) -> int:
    """File offset of an uncompressed zip member's data (after its local header)."""
    with open(path, "rb") as handle:
        handle.seek(info.header_offset)
        local = handle.read(30)
    if len(local) != 30 or local[:4] != b"PK\x03\x04":
        raise ValueError(
            f"{path!r} has a broken zip entry for 'images'; the file is corrupt, download it again."
        )
    name_length, extra_length = struct.unpack("<HH", local[26:30])
    return info.header_offset + 30 + name_length + extra_length


def _open_images(path: str, in_memory: bool) -> np.ndarray:
    """The `images` member of an `.npz`: memory-mapped, or loaded when `in_memory`."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise ValueError(
            f"Could not read {path!r} ({_one_line(error)}); it is not an .npz file or it is "
            "truncated, download it again."
        ) from None
    with archive:
        names = archive.namelist()
        if "images.npy" not in names:
            keys = [name.removesuffix(".npy") for name in names]
            raise ValueError(
                f"{path!r} has no 'images' array (it has {keys}); pass an official MPI3D .npz."
            )
        info = archive.getinfo("images.npy")
        with archive.open(info) as member:
            shape, fortran_order, dtype = _read_npy_header(member, path)
    if dtype != np.uint8 or fortran_order or len(shape) != 4 or shape[-1] != 3:
        raise ValueError(
            f"{path!r} has images {shape} of {dtype}{' (Fortran order)' * fortran_order}; "
            "expected uint8 (n, 64, 64, 3) as in the official MPI3D files, download it again."
        )
    nbytes = int(np.prod(shape, dtype=np.int64))
    if in_memory:
        try:
            with _numpy_read_errors(path), np.load(path, allow_pickle=False) as loaded:
                return loaded["images"]
        except zlib.error as error:
            raise ValueError(
                f"Could not read {path!r} ({_one_line(error)}); the file is corrupt or "
                "truncated, download it again."
            ) from None
    if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
        raise ValueError(
            f"{path!r} stores 'images' compressed, which cannot be memory-mapped; use the "
            "official (np.savez, uncompressed) file, or pass in_memory=True to load all "
            f"{shape[0]} images ({nbytes / 1e6:,.0f} MB of memory)."
        )
    start = _stored_member_offset(path, info)
    with open(path, "rb") as handle:
        handle.seek(start)
        _read_npy_header(handle, path)
        offset = handle.tell()
    if offset - start + nbytes > info.file_size or offset + nbytes > os.path.getsize(path):
        raise ValueError(
            f"{path!r} is shorter than its {shape} images; the file is truncated, download "
            "it again."
        )
    return np.memmap(path, dtype=np.uint8, mode="r", offset=offset, shape=shape)


def load_mpi3d(
    variant: str = "toy",
    path: str | os.PathLike | None = None,
    sha256: str | None = None,
    download: bool = False,
    factor_sizes: tuple[int, ...] | None = None,
    in_memory: bool = False,
) -> MPI3D:
    """Opens an MPI3D `.npz` (`mpi3d_toy.npz`, `mpi3d_realistic.npz`, `mpi3d_real.npz`).

    Args:
        variant: `"toy"`, `"realistic"` or `"real"`: the file to look for in
            folders and to download.
        path: the `.npz` file (used whatever its variant), or a folder
            holding `mpi3d_<variant>.npz` directly or in `mpi3d_<variant>/`.
            Defaults to the `BETAVAE_DATA_DIR` environment variable.
        sha256: if given, the file's SHA-256 (64 hex digits) must match it
            before it is read (hashing 12.7 GB takes about a minute). No
            checksum is published for these files, so none is built in.
        download: when the file is not found, fetch it (12.7 GB) from
            `MPI3D_URLS[variant]` with `keras.utils.get_file` into
            `<path or BETAVAE_DATA_DIR or ~/.keras/datasets>/mpi3d_<variant>/`
            (checked against `sha256` when given, and deleted if it does not
            match). Nothing is downloaded by default.
        factor_sizes: the 7 factor sizes, for files whose length is not
            1,036,800 (or 460,800), e.g. a reduced test file; see `MPI3D`.
        in_memory: load all images into memory (12.7 GB for the official
            files) instead of memory-mapping them. Needed only for a file
            whose `images` member is compressed.

    Returns:
        `MPI3D` with `factor_sizes == (6, 6, 2, 3, 3, 40, 40)` and
        `observation_shape == (64, 64, 3)` for the official files; images
        come out float32 in [0, 1].

    Raises:
        FileNotFoundError: no file, and `download` is False.
        ValueError: an unknown variant, a SHA-256 mismatch, a file that is
            not an `.npz` with uint8 `images` `(n, H, W, 3)`, a compressed
            member without `in_memory`, or factor sizes that do not match.
    """
    if variant not in MPI3D_VARIANTS:
        raise ValueError(f"variant must be one of {MPI3D_VARIANTS}. Received: variant={variant!r}")
    file_name = f"mpi3d_{variant}.npz"
    path = locate_data_file(
        path,
        file_name=file_name,
        subfolder=f"mpi3d_{variant}",
        what=f"MPI3D ({variant})",
        url=MPI3D_URLS[variant],
        download=download,
        sha256=sha256,
    )
    images = _open_images(path, bool(in_memory))
    return MPI3D(images, factor_sizes, variant=variant, source=repr(path))
