"""CIFAR-10 loader for two-class problems: official python-format archive, its folder, or an npz.

Three layouts are read:

- ``cifar-10-python.tar.gz``: the official archive, read member by member without extracting.
- ``cifar-10-batches-py/``: its extracted folder with ``data_batch_1`` ... ``data_batch_5`` and
  ``test_batch``. Each is a pickled dict with ``b"data"`` (uint8, shape (N, 3072)) and
  ``b"labels"`` (N integers in 0..9).
- ``cifar10_airplane_automobile.npz``: arrays ``x_train`` (uint8, (N, 3072)), ``y_train``,
  ``x_test``, ``y_test`` (uint8 labels), holding classes 0 (airplane) and 1 (automobile) only.

Security: the official format is Python pickle, and unpickling can run arbitrary code. Only load
archives you trust. The npz is read with ``allow_pickle=False``.

Data directory. :func:`resolve_data_dir` takes, in this order, the ``data_dir`` argument, the
environment variable ``KTHEORY_DATA_DIR``, and ``<repo root>/data`` where the repo root is the
parent of the ``ktheory`` package folder. In that directory D the candidates are tried in this
order (the first that exists is used):

1. ``D/cifar10/cifar10_airplane_automobile.npz``
2. ``D/cifar10_airplane_automobile.npz``
3. ``D/cifar-10-batches-py/``  and  ``D/cifar10/cifar-10-batches-py/``
4. ``D/cifar-10-python.tar.gz``  and  ``D/cifar10/cifar-10-python.tar.gz``

The npz candidates are skipped when the requested classes are not both in {0, 1}.

Preprocessing: the first class gets label +1 and the second -1; each image becomes a float64 row
scaled to unit Euclidean norm (no centering). Subsampling is seeded and, by default, stratified.

Known limitations
-----------------
- The default data directory assumes the source layout (an editable install). An installed copy
  of the package has no repo root, so pass ``data_dir`` or set ``KTHEORY_DATA_DIR`` there.
- An all-zero image cannot be scaled to unit norm and raises DataFileError.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataFileError, InvalidArgumentError
from .synthetic import Dataset

__all__ = [
    "CIFAR10_CLASSES",
    "NPZ_NAME",
    "ARCHIVE_NAME",
    "FOLDER_NAME",
    "DATA_DIR_ENV",
    "DataStatus",
    "default_data_dir",
    "resolve_data_dir",
    "candidate_paths",
    "find_cifar10",
    "file_sha256",
    "read_cifar10",
    "load_cifar10",
]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
NPZ_NAME = "cifar10_airplane_automobile.npz"
ARCHIVE_NAME = "cifar-10-python.tar.gz"
FOLDER_NAME = "cifar-10-batches-py"
DATA_DIR_ENV = "KTHEORY_DATA_DIR"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
PIXELS = 3072  # 3 channels x 32 x 32, channel-major as in the official files
NPZ_CLASSES = (0, 1)
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
_HASH_CHUNK = 1 << 20


def default_data_dir() -> Path:
    """Return ``<repo root>/data``, where the repo root is the parent of the ktheory package folder."""
    return Path(__file__).resolve().parents[2] / "data"


def resolve_data_dir(data_dir=None) -> tuple[Path, str]:
    """Return (directory, where it came from): the argument, ``$KTHEORY_DATA_DIR``, or the default."""
    if data_dir is not None:
        return Path(data_dir).expanduser(), "argument"
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser(), f"environment variable {DATA_DIR_ENV}"
    return default_data_dir(), "default <repo root>/data"


def _check_classes(classes) -> tuple[int, int]:
    try:
        pair = tuple(int(c) for c in classes)
        exact = all(int(c) == c for c in classes)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"classes must be two distinct integers in 0..9; got {classes!r}") from None
    if len(pair) != 2 or not exact or pair[0] == pair[1] or not all(0 <= c <= 9 for c in pair):
        raise InvalidArgumentError(f"classes must be two distinct integers in 0..9; got {classes!r}")
    return pair


def candidate_paths(data_dir: Path, classes=NPZ_CLASSES) -> list[tuple[Path, str]]:
    """Return the (path, format) candidates in search order; format is "npz", "folder" or "tar.gz"."""
    data_dir = Path(data_dir)
    out = []
    if set(_check_classes(classes)) <= set(NPZ_CLASSES):
        out += [(data_dir / "cifar10" / NPZ_NAME, "npz"), (data_dir / NPZ_NAME, "npz")]
    out += [
        (data_dir / FOLDER_NAME, "folder"),
        (data_dir / "cifar10" / FOLDER_NAME, "folder"),
        (data_dir / ARCHIVE_NAME, "tar.gz"),
        (data_dir / "cifar10" / ARCHIVE_NAME, "tar.gz"),
    ]
    return out


def _exists(path: Path, fmt: str) -> bool:
    return path.is_dir() if fmt == "folder" else path.is_file()


def file_sha256(path) -> str:
    """Return the hex sha256 of a file, or for a folder of the official batch files in fixed order.

    For a folder the digest covers, for each of data_batch_1..5 and test_batch in that order, the
    file name, a zero byte, and the file's bytes.
    """
    path = Path(path)
    digest = hashlib.sha256()
    files = [path / name for name in TRAIN_BATCHES + (TEST_BATCH,)] if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(file.name.encode() + b"\0")
        with open(file, "rb") as handle:
            for chunk in iter(lambda: handle.read(_HASH_CHUNK), b""):
                digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class DataStatus:
    """Search result for CIFAR-10 data: the directory, the candidates tried and the one found.

    ``path`` and ``format`` are None when nothing was found; ``searched`` lists every candidate
    in search order; ``sha256`` is filled only when ``find_cifar10(..., hash=True)`` found data.
    """

    found: bool
    path: Path | None
    format: str | None
    data_dir: Path
    data_dir_source: str
    searched: tuple[Path, ...]
    sha256: str | None = None

    def describe(self) -> str:
        """Return a one-line summary, for example for a report that skips the CIFAR-10 checks."""
        if self.found:
            return f"using {self.path} ({self.format}, data directory from {self.data_dir_source})"
        if not Path(self.data_dir).is_dir():
            return (f"CIFAR-10 not found: the data directory {self.data_dir} (from {self.data_dir_source}) "
                    "does not exist")
        looked = ", ".join(str(p) for p in self.searched)
        return f"CIFAR-10 not found; looked in {looked} (data directory from {self.data_dir_source})"


def find_cifar10(data_dir=None, classes=NPZ_CLASSES, hash: bool = False) -> DataStatus:
    """Locate CIFAR-10 data without loading it; see the module docstring for the search order."""
    root, source = resolve_data_dir(data_dir)
    candidates = candidate_paths(root, classes)
    for path, fmt in candidates:
        if _exists(path, fmt):
            digest = file_sha256(path) if hash else None
            return DataStatus(True, path, fmt, root, source, tuple(p for p, _ in candidates), digest)
    return DataStatus(False, None, None, root, source, tuple(p for p, _ in candidates))


def _missing_message(status: DataStatus, classes) -> str:
    looked = "\n  ".join(str(p) for p in status.searched)
    npz_note = ""
    if not set(classes) <= set(NPZ_CLASSES):
        npz_note = (f" The two-class file {NPZ_NAME} contains classes 0 and 1 only, so it was not "
                    f"considered for classes {tuple(classes)}.")
    if not Path(status.data_dir).is_dir():
        npz_note += f" The data directory {status.data_dir} does not exist; check the path."
    return (
        f"CIFAR-10 data not found (data directory {status.data_dir}, from {status.data_dir_source}). "
        f"Looked in:\n  {looked}\n"
        f"Provide the data by putting {NPZ_NAME} into <data dir>/cifar10/, or the official "
        f"{ARCHIVE_NAME} (or its extracted folder {FOLDER_NAME}) into <data dir>, then pass "
        f"data_dir=... or set {DATA_DIR_ENV}.{npz_note}"
    )


def _check_batch(obj, where: str):
    """Return (data, labels) of one unpickled official batch after checking its layout."""
    expected = f'a dict with b"data" (uint8, shape (N, {PIXELS})) and b"labels" (N integers in 0..9)'
    if not isinstance(obj, dict) or b"data" not in obj or b"labels" not in obj:
        keys = sorted(obj)[:6] if isinstance(obj, dict) else type(obj).__name__
        raise DataFileError(f"{where} is not an official CIFAR-10 batch: expected {expected}; got {keys!r}")
    data = obj[b"data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != PIXELS:
        desc = f"shape {data.shape}, dtype {data.dtype}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataFileError(f"{where}: b\"data\" must be uint8 with shape (N, {PIXELS}); got {desc}")
    try:
        labels = np.asarray(obj[b"labels"])
    except (TypeError, ValueError) as exc:
        raise DataFileError(f"{where}: b\"labels\" must be {data.shape[0]} integers in 0..9 ({exc})") from None
    if labels.shape != (data.shape[0],) or not np.issubdtype(labels.dtype, np.integer) \
            or (labels.size and (labels.min() < 0 or labels.max() > 9)):
        raise DataFileError(
            f"{where}: b\"labels\" must be {data.shape[0]} integers in 0..9 (one per row of b\"data\"); "
            f"got shape {labels.shape}, dtype {labels.dtype}"
        )
    return data, labels.astype(np.int64)


def _unpickle(raw: bytes, where: str):
    try:
        return pickle.loads(raw, encoding="bytes")
    except Exception as exc:  # noqa: BLE001 - unpickling raises many types for a damaged file
        raise DataFileError(
            f"{where} could not be unpickled as an official CIFAR-10 batch ({type(exc).__name__}: {exc})"
        ) from None


def _read_official(path: Path, fmt: str):
    names = TRAIN_BATCHES + (TEST_BATCH,)
    raws = {}
    if fmt == "folder":
        for name in names:
            file = path / name
            if not file.is_file():
                raise DataFileError(
                    f"{path} is missing {name}: an official CIFAR-10 folder contains "
                    f"{', '.join(names)}"
                )
            raws[name] = (file.read_bytes(), str(file))
    else:
        try:
            with tarfile.open(path, "r:gz") as tar:
                members = {Path(m.name).name: m for m in tar.getmembers()
                           if m.isfile() and Path(m.name).parent.name == FOLDER_NAME}
                for name in names:
                    if name not in members:
                        raise DataFileError(
                            f"{path} has no member {FOLDER_NAME}/{name}: the official archive contains "
                            f"{', '.join(FOLDER_NAME + '/' + n for n in names)}"
                        )
                    raws[name] = (tar.extractfile(members[name]).read(), f"{path}:{FOLDER_NAME}/{name}")
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise DataFileError(
                f"{path} is not a readable gzip-compressed tar archive ({type(exc).__name__}: {exc}); "
                f"expected the official {ARCHIVE_NAME}"
            ) from None
    parts = {name: _check_batch(_unpickle(raw, where), where) for name, (raw, where) in raws.items()}
    x_train = np.concatenate([parts[n][0] for n in TRAIN_BATCHES])
    y_train = np.concatenate([parts[n][1] for n in TRAIN_BATCHES])
    return x_train, y_train, parts[TEST_BATCH][0], parts[TEST_BATCH][1]


def _read_npz(path: Path, classes):
    if not set(classes) <= set(NPZ_CLASSES):
        raise DataFileError(
            f"{path} contains CIFAR-10 classes 0 (airplane) and 1 (automobile) only; classes "
            f"{tuple(classes)} need the official {ARCHIVE_NAME} or its folder {FOLDER_NAME}"
        )
    try:
        # Opening the file here, not in np.load, closes it also when the zip directory is damaged.
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as archive:
            missing = [k for k in NPZ_KEYS if k not in archive.files]
            if missing:
                raise DataFileError(
                    f"{path} lacks the arrays {missing}: expected {', '.join(NPZ_KEYS)} "
                    f"(x uint8 of shape (N, {PIXELS}), y uint8 labels 0 or 1)"
                )
            arrays = {k: archive[k] for k in NPZ_KEYS}
    except DataFileError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        # numpy reports a non-zip file as "pickled (object) data" and suggests allow_pickle=True,
        # which is the wrong fix here, so the message names the file and the remedy instead.
        if "Object arrays" in str(exc):
            reason = "it holds object arrays, which are not loaded because unpickling can run code"
        elif "pickled" in str(exc):
            reason = "not a zip archive"
        else:
            reason = f"{type(exc).__name__}: {exc}"
        raise DataFileError(
            f"{path} is not a readable npz archive ({reason}); expected a numpy .npz with the arrays "
            f"{', '.join(NPZ_KEYS)}. Replace the file with an intact copy, or point the loader at "
            "another data directory (the data_dir argument, or --data-dir or KTHEORY_DATA_DIR for "
            "python -m verify)"
        ) from None
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != PIXELS:
            raise DataFileError(f"{path}: x_{split} must be uint8 with shape (N, {PIXELS}); got shape {x.shape}, dtype {x.dtype}")
        if not np.issubdtype(y.dtype, np.integer) or y.shape != (x.shape[0],):
            raise DataFileError(
                f"{path}: y_{split} must hold {x.shape[0]} integer labels (one per row of x_{split}); "
                f"got shape {y.shape}, dtype {y.dtype}"
            )
        if y.size and not np.all(np.isin(y, NPZ_CLASSES)):
            raise DataFileError(f"{path}: y_{split} must contain only the labels 0 and 1; got values {np.unique(y)[:10]}")
    return (arrays["x_train"], arrays["y_train"].astype(np.int64),
            arrays["x_test"], arrays["y_test"].astype(np.int64))


def _format_of(path: Path) -> str:
    """Infer the layout from a path: a directory is a folder, a .npz name an npz, anything else a tar.gz."""
    if path.is_dir():
        return "folder"
    if path.suffix == ".npz":
        return "npz"
    return "tar.gz"


def read_cifar10(path, fmt: str | None = None, classes=NPZ_CLASSES):
    """Read raw CIFAR-10 arrays (x_train, y_train, x_test, y_test) from one file or folder.

    ``fmt`` is "npz", "folder" or "tar.gz"; by default it follows from the path (a directory is a
    folder, a name ending in .npz an npz, anything else a tar.gz). Images are uint8 (N, 3072),
    labels int64 class numbers. Official archives are unpickled, so only read trusted files.
    """
    path = Path(path)
    if fmt is None:
        fmt = _format_of(path)
    if fmt not in ("npz", "folder", "tar.gz"):
        raise InvalidArgumentError(f"fmt must be 'npz', 'folder' or 'tar.gz'; got {fmt!r}")
    classes = _check_classes(classes)
    if not _exists(path, fmt):
        kind = "folder" if fmt == "folder" else "file"
        raise DataFileError(f"CIFAR-10 {kind} {path} does not exist (expected {fmt} layout)")
    if fmt == "npz":
        return _read_npz(path, classes)
    return _read_official(path, fmt)


def _unit_rows(x: np.ndarray, where: str) -> np.ndarray:
    X = x.astype(np.float64)
    norms = np.linalg.norm(X, axis=1)
    if np.any(norms == 0):
        raise DataFileError(f"{where} has an all-zero image at row {int(np.flatnonzero(norms == 0)[0])}, "
                            "which cannot be scaled to unit norm")
    return X / norms[:, None]


def _subsample(labels: np.ndarray, count, rng, stratified: bool, what: str) -> np.ndarray:
    """Return row indices: all rows in file order when count is None, else a seeded random subset."""
    total = labels.size
    if count is None:
        return np.arange(total)
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise InvalidArgumentError(f"{what} must be a positive integer or None; got {count!r}")
    if count > total:
        raise InvalidArgumentError(f"{what} = {count} exceeds the {total} rows available for the chosen classes")
    if not stratified:
        return rng.choice(total, size=count, replace=False)
    # Stratified: count // 2 rows of each class, the odd row going to the first class (label +1).
    first = np.flatnonzero(labels > 0)
    second = np.flatnonzero(labels < 0)
    want = (count - count // 2, count // 2)
    for pool, k, name in ((first, want[0], "first"), (second, want[1], "second")):
        if k > pool.size:
            raise InvalidArgumentError(
                f"{what} = {count} needs {k} rows of the {name} class but only {pool.size} exist; "
                "lower it or pass stratified=False"
            )
    picked = np.concatenate([rng.choice(first, size=want[0], replace=False),
                             rng.choice(second, size=want[1], replace=False)])
    return rng.permutation(picked)


def load_cifar10(data_dir=None, *, path=None, classes=NPZ_CLASSES, n_train=None, n_test=None,
                 rng: np.random.Generator | None = None, seed=None, stratified: bool = True) -> Dataset:
    """Load a two-class CIFAR-10 problem with labels +1/-1 and unit-norm float64 rows.

    Parameters
    ----------
    data_dir : path-like, optional
        Directory to search (see the module docstring); ignored when ``path`` is given.
    path : path-like, optional
        A specific npz file, official tar.gz or extracted folder.
    classes : pair of int
        CIFAR-10 class numbers; the first gets label +1, the second -1. Default (0, 1), airplane
        (+1) against automobile (-1).
    n_train, n_test : int or None
        Rows to keep from each split; None keeps all rows in file order.
    rng, seed : numpy Generator or int, optional
        Randomness for subsampling (exactly one of them when n_train or n_test is set).
    stratified : bool
        True draws count // 2 rows per class (the odd one from the first class) and shuffles them;
        False draws ``count`` rows uniformly without replacement.

    Returns
    -------
    Dataset
        X (n_train, 3072), y (n_train,), X_test, y_test; ``info`` has the path, format, sha256,
        classes, class names and the sampling settings.
    """
    classes = _check_classes(classes)
    if path is not None:
        path = Path(path).expanduser()
        fmt = _format_of(path)
        status = DataStatus(_exists(path, fmt), path, fmt, path.parent, "argument path", (path,))
    else:
        status = find_cifar10(data_dir, classes)
    if not status.found:
        if path is not None:
            raise DataFileError(f"CIFAR-10 data not found at {path}; pass an existing npz, "
                                f"{ARCHIVE_NAME} or {FOLDER_NAME} folder")
        raise DataFileError(_missing_message(status, classes))

    if (n_train is not None or n_test is not None) and rng is None and seed is None:
        raise InvalidArgumentError(
            "subsampling needs randomness: pass rng=numpy.random.default_rng(seed) or seed=<int>"
        )
    if rng is not None and seed is not None:
        raise InvalidArgumentError("pass either rng or seed, not both")
    if rng is None:
        rng = np.random.default_rng(seed)
    elif not isinstance(rng, np.random.Generator):
        raise InvalidArgumentError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}")

    x_train, y_train, x_test, y_test = read_cifar10(status.path, status.format, classes)
    out = []
    for x, y, count, split in ((x_train, y_train, n_train, "n_train"), (x_test, y_test, n_test, "n_test")):
        keep = np.isin(y, classes)
        labels = np.where(y[keep] == classes[0], 1.0, -1.0)
        rows = _subsample(labels, count, rng, stratified, split)
        X = _unit_rows(x[keep][rows], f"{status.path} ({split.removeprefix('n_')} split)")
        out.append((X, labels[rows]))
    info = {
        "source": "cifar10",
        "path": str(status.path),
        "format": status.format,
        "sha256": file_sha256(status.path),
        "classes": classes,
        "class_names": tuple(CIFAR10_CLASSES[c] for c in classes),
        "labels": {classes[0]: 1.0, classes[1]: -1.0},
        "n_train": out[0][0].shape[0],
        "n_test": out[1][0].shape[0],
        "stratified": stratified,
        "seed": seed,
        "data_dir_source": status.data_dir_source,
    }
    return Dataset(out[0][0], out[0][1], out[1][0], out[1][1], info)
