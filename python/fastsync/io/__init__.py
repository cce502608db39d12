"""Saving and loading arrays, as mlx.core does: save / savez / savez_compressed (.npy, .npz),
save_safetensors, save_gguf, and load, which dispatches on the format or the file extension.

File arguments are str or os.PathLike paths, or binary file objects. Loaded arrays are
ordinary fastsync arrays, read eagerly (there is no lazy Load primitive yet). A truncated or
malformed file raises FileFormatError (a ValueError and a RuntimeError) naming the file; a
missing one MissingFileError (a FileNotFoundError and a ValueError).
"""

import os

from ._common import FileFormatError, MissingFileError, describe, fspath
from ._gguf import load_gguf, save_gguf
from ._npy import load_npy, load_npz, save, savez, savez_compressed
from ._safetensors import load_safetensors, save_safetensors

__all__ = ["load", "save", "save_gguf", "save_safetensors", "savez", "savez_compressed"]
__all__ += ["FileFormatError", "MissingFileError"]


def _infer_format(file):
    name = fspath(file)
    if name is None:
        if not hasattr(file, "read"):
            raise TypeError(
                f"[load] expected a path or a binary file object, got {type(file).__name__}"
            )
        name = getattr(file, "name", None)
        if not isinstance(name, str):
            raise ValueError("[load] cannot infer the format of a file object: pass format=")
    ext = os.path.splitext(name)[1]
    if not ext:
        raise ValueError(f"[load] Could not infer file format from extension of {name}")
    return ext[1:]


def load(file, /, format=None, return_metadata=False, *, stream=None):
    """Load arrays from a .npy, .npz, .safetensors or .gguf file.

    Returns an array (npy), a dict of arrays (npz, safetensors, gguf), or with
    ``return_metadata=True`` (safetensors and gguf only) a pair (dict, metadata). ``stream``
    is accepted for MLX compatibility; arrays are read eagerly on the host.
    """
    del stream  # the arrays are built from host memory
    fmt = format if format is not None else _infer_format(file)
    if return_metadata and fmt in ("npy", "npz"):
        raise ValueError(f"[load] metadata not supported for format {fmt}")
    if fmt == "npy":
        return load_npy(file)
    if fmt == "npz":
        return load_npz(file)
    if fmt in ("safetensors", "gguf"):
        arrays, metadata = (load_safetensors if fmt == "safetensors" else load_gguf)(file)
        return (arrays, metadata) if return_metadata else arrays
    raise ValueError(f"[load] Unknown file format {fmt!r} for {describe(file)}")
