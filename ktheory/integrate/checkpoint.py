"""Atomic checkpoint files for long gradient-descent runs.

A checkpoint is one ``.npz`` file holding named arrays (the integrator state and the history so
far) and a JSON metadata string under the key ``__meta__``. It is written to a temporary file in
the same directory and moved into place with :func:`os.replace`, so a crash leaves either the
previous checkpoint or the new one, never a truncated file. The metadata carries a hash of every
input of the run (:func:`input_digest`); resuming a different problem from it raises.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from ..errors import DataFileError

__all__ = ["input_digest", "save_checkpoint", "load_checkpoint", "META_KEY"]

META_KEY = "__meta__"
CHECKPOINT_FORMAT = 1
"""Version of the file layout; a file with another version is rejected."""


def input_digest(*items) -> str:
    """Return a BLAKE2b hex digest of arrays and scalars, including dtype and shape of each array.

    ``None`` and strings are allowed; the order of ``items`` matters.
    """
    h = hashlib.blake2b(digest_size=20)
    for item in items:
        if item is None:
            h.update(b"<none>")
        elif isinstance(item, str):
            h.update(b"<str>" + item.encode())
        elif isinstance(item, np.ndarray):
            arr = np.ascontiguousarray(item)
            h.update(f"<array {arr.dtype.str} {arr.shape}>".encode())
            h.update(arr.data)
        else:
            h.update(f"<scalar {float(item)!r}>".encode())
    return h.hexdigest()


def save_checkpoint(path, arrays: dict, meta: dict) -> None:
    """Write ``arrays`` and ``meta`` (JSON-serialisable) to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = dict(meta, format=CHECKPOINT_FORMAT)
    payload = {key: np.asarray(value) for key, value in arrays.items()}
    payload[META_KEY] = np.array(json.dumps(meta, sort_keys=True))
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_checkpoint(path) -> tuple[dict, dict]:
    """Return (arrays, meta) from a checkpoint written by :func:`save_checkpoint`."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files if key != META_KEY}
            meta = json.loads(str(data[META_KEY]))
    except (OSError, ValueError, KeyError) as exc:
        raise DataFileError(
            f"checkpoint {path} could not be read as a ktheory checkpoint ({exc}); delete it to start afresh"
        ) from None
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise DataFileError(
            f"checkpoint {path} has format {meta.get('format')!r}, expected {CHECKPOINT_FORMAT}; delete it to start afresh"
        )
    return arrays, meta
