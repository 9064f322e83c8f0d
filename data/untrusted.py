"""Reading files from others without running their code.

Two file kinds this project reads can carry Python pickles, and unpickling runs whatever the pickle
asks: CalMS21's converted ``.npy`` form (a pickled dict) and HDF5 files written by pandas (DeepLabCut's
``.h5``), whose node attributes PyTables unpickles on reading. Both are checked here before anything
is built: an ``.npy`` pickle is read through an allow-list of numpy's own classes, an ``.h5`` file's
pickled attributes are scanned (``pickletools``, which parses without executing) and refused if they
would build any object at all; pure data (lists, tuples, dicts, strings, numbers, None) is all pandas
writes there.
"""

from __future__ import annotations

import pickle
import pickletools
from pathlib import Path

import numpy as np

from .errors import PoseDataError

# What a pickled .npy may build: numpy arrays, their dtypes and scalars (dicts, lists, strings and numbers need
# no class). Anything else is refused before it is built.
NPY_ALLOWED = {("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "_reconstruct"),
               ("numpy._core.multiarray", "scalar"), ("numpy.core.multiarray", "scalar"), ("numpy", "ndarray"),
               ("numpy", "dtype"), ("collections", "OrderedDict")}

# The pickle opcodes that import a name or call one: a pickle of pure data holds none of them.
_BUILDING = {"GLOBAL", "STACK_GLOBAL", "INST", "OBJ", "NEWOBJ", "NEWOBJ_EX", "REDUCE", "BUILD", "EXT1", "EXT2",
             "EXT4"}


class _AllowListUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in NPY_ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"it would build {module}.{name}")


def load_npy_safely(path: Path):
    """The object an ``.npy`` file holds, its pickle (if any) read through the allow-list (``NPY_ALLOWED``);
    a pickle that would build anything else raises ``pickle.UnpicklingError`` naming it."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        _, _, dtype = read_header(f)
        if not dtype.hasobject:
            f.seek(0)
            return np.load(f, allow_pickle=False)
        return _AllowListUnpickler(f).load()


def _builds(data: bytes) -> str | None:
    """What a pickle would import or call (its first such opcode and argument), or None for pure data or bytes
    that are no pickle at all (PyTables then keeps them as they are)."""
    try:
        for op, arg, _ in pickletools.genops(data):
            if op.name in _BUILDING:
                return f"{op.name} {arg}" if arg is not None else op.name
    except Exception:  # not a pickle: PyTables' own loads fails on it too and keeps the bytes
        return None
    return None


def check_h5_pickles(path: Path) -> None:
    """Refuse an HDF5 file holding a pickle that would build an object: in a node attribute PyTables would unpickle
    (bytes ending in ``.``), or in a dataset of pickled objects (PyTables' object atom)."""
    import h5py

    found: list[str] = []

    def visit(name: str, obj) -> None:
        for key, value in obj.attrs.items():
            if isinstance(value, bytes | np.bytes_) and bytes(value).endswith(b"."):
                what = _builds(bytes(value))
                if what:
                    found.append(f"attribute {name or '/'}:{key} would run {what}")
        if isinstance(obj, h5py.Dataset) and obj.attrs.get("PSEUDOATOM") in (b"object", "object"):
            found.append(f"dataset {name} holds pickled objects")

    try:
        with h5py.File(path, "r") as f:
            visit("", f)
            f.visititems(visit)
    except OSError as e:
        raise PoseDataError(f"is not a readable HDF5 file ({e})", source=path.name,
                            fix="check that the file is whole") from None
    if found:
        raise PoseDataError(f"refused: {found[0]}, which a pose file never needs (a pickle may run code)",
                            source=path.name, fix="export the poses again from their software, or as CSV")
