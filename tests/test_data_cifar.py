"""CIFAR-10 loader: tiny archives written in the official format here, an npz, and bad files."""

import gzip
import hashlib
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

from ktheory.data import cifar
from ktheory.data.cifar import find_cifar10, load_cifar10, read_cifar10
from ktheory.errors import DataFileError, InvalidArgumentError

PER_BATCH = 8  # images per official batch file: 5 train batches give 40 train images, 8 test images
REAL_NPZ_SHA256 = "654e9560089d670bdc5fa82a986f8dbe76ad12638577e2f75045a64c834d4474"


def _batches(seed=0):
    """Return {name: dict} batches in the official layout; labels cycle 0..9 (0,1 and 2 present)."""
    rng = np.random.default_rng(seed)
    out = {}
    for b, name in enumerate(cifar.TRAIN_BATCHES + (cifar.TEST_BATCH,)):
        data = rng.integers(1, 256, size=(PER_BATCH, cifar.PIXELS), dtype=np.uint8)
        labels = [(b + i) % 10 for i in range(PER_BATCH)]
        out[name] = {b"batch_label": name.encode(), b"labels": labels, b"data": data,
                     b"filenames": [f"{name}_{i}.png".encode() for i in range(PER_BATCH)]}
    return out


def _write_folder(root: Path, batches) -> Path:
    folder = root / cifar.FOLDER_NAME
    folder.mkdir(parents=True)
    for name, obj in batches.items():
        (folder / name).write_bytes(pickle.dumps(obj, protocol=2))
    return folder


def _write_tar(root: Path, batches, name=cifar.ARCHIVE_NAME) -> Path:
    path = root / name
    root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for member, obj in batches.items():
            raw = pickle.dumps(obj, protocol=2)
            info = tarfile.TarInfo(f"{cifar.FOLDER_NAME}/{member}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return path


def _expected(batches, classes):
    """Unit-norm rows and +-1 labels built straight from the batch dicts, in file order."""
    def split(names):
        x = np.concatenate([batches[n][b"data"] for n in names]).astype(float)
        y = np.concatenate([batches[n][b"labels"] for n in names])
        keep = np.isin(y, classes)
        x = x[keep]
        return x / np.linalg.norm(x, axis=1, keepdims=True), np.where(y[keep] == classes[0], 1.0, -1.0)
    return split(cifar.TRAIN_BATCHES), split((cifar.TEST_BATCH,))


def _write_npz(path: Path, seed=0, **override):
    rng = np.random.default_rng(seed)
    arrays = {
        "x_train": rng.integers(1, 256, size=(12, cifar.PIXELS), dtype=np.uint8),
        "y_train": np.repeat(np.array([0, 1], dtype=np.uint8), 6),
        "x_test": rng.integers(1, 256, size=(4, cifar.PIXELS), dtype=np.uint8),
        "y_test": np.repeat(np.array([0, 1], dtype=np.uint8), 2),
    }
    arrays.update(override)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return arrays


@pytest.mark.parametrize("layout", ["folder", "tar.gz"])
def test_official_layouts_load(tmp_path, layout):
    batches = _batches()
    writer = _write_folder if layout == "folder" else _write_tar
    writer(tmp_path, batches)
    data = load_cifar10(tmp_path, classes=(0, 2))
    (X, y), (Xt, yt) = _expected(batches, (0, 2))
    np.testing.assert_array_equal(data.X, X)
    np.testing.assert_array_equal(data.y, y)
    np.testing.assert_array_equal(data.X_test, Xt)
    np.testing.assert_array_equal(data.y_test, yt)
    assert data.info["format"] == layout
    assert data.info["class_names"] == ("airplane", "bird")
    assert data.X.dtype == np.float64


def test_folder_and_tar_agree(tmp_path):
    batches = _batches(3)
    _write_folder(tmp_path / "a", batches)
    _write_tar(tmp_path / "b", batches)
    one = load_cifar10(tmp_path / "a", n_train=6, n_test=2, seed=5)
    two = load_cifar10(tmp_path / "b", n_train=6, n_test=2, seed=5)
    np.testing.assert_array_equal(one.X, two.X)
    np.testing.assert_array_equal(one.y, two.y)


def test_rows_unit_norm_and_labels(tmp_path):
    _write_tar(tmp_path, _batches())
    data = load_cifar10(tmp_path)
    # Each row is divided by its own norm: the error is a few ulps of 1.
    np.testing.assert_allclose(np.linalg.norm(data.X, axis=1), 1.0, rtol=0, atol=4e-16)
    assert set(np.unique(data.y)) == {-1.0, 1.0}


def test_npz_layout(tmp_path):
    arrays = _write_npz(tmp_path / "cifar10" / cifar.NPZ_NAME)
    data = load_cifar10(tmp_path)
    x = arrays["x_train"].astype(float)
    np.testing.assert_array_equal(data.X, x / np.linalg.norm(x, axis=1, keepdims=True))
    np.testing.assert_array_equal(data.y, np.where(arrays["y_train"] == 0, 1.0, -1.0))
    assert data.info["sha256"] == hashlib.sha256((tmp_path / "cifar10" / cifar.NPZ_NAME).read_bytes()).hexdigest()


def test_npz_swapped_classes(tmp_path):
    arrays = _write_npz(tmp_path / cifar.NPZ_NAME)
    data = load_cifar10(tmp_path, classes=(1, 0))
    np.testing.assert_array_equal(data.y, np.where(arrays["y_train"] == 1, 1.0, -1.0))


def test_stratified_subsample(tmp_path):
    _write_npz(tmp_path / cifar.NPZ_NAME)
    data = load_cifar10(tmp_path, n_train=7, n_test=4, seed=0)
    assert data.X.shape == (7, cifar.PIXELS)
    assert np.count_nonzero(data.y > 0) == 4  # the odd row goes to the first class
    assert np.count_nonzero(data.y_test > 0) == 2
    again = load_cifar10(tmp_path, n_train=7, n_test=4, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(data.X, again.X)
    other = load_cifar10(tmp_path, n_train=7, n_test=4, seed=1)
    assert not np.array_equal(data.X, other.X)


def test_plain_subsample_rows_distinct(tmp_path):
    _write_npz(tmp_path / cifar.NPZ_NAME)
    full = load_cifar10(tmp_path)
    data = load_cifar10(tmp_path, n_train=12, seed=2, stratified=False)
    # A permutation of all rows: every full row appears exactly once.
    match = np.argmax(data.X @ full.X.T, axis=1)
    assert sorted(match) == list(range(12))


def test_search_order_prefers_npz(tmp_path):
    _write_tar(tmp_path, _batches())
    _write_npz(tmp_path / "cifar10" / cifar.NPZ_NAME)
    assert find_cifar10(tmp_path).format == "npz"
    status = find_cifar10(tmp_path, classes=(0, 2))
    assert status.format == "tar.gz"
    assert all(p.suffix != ".npz" for p in status.searched)


def test_env_variable_sets_data_dir(tmp_path, monkeypatch):
    _write_npz(tmp_path / cifar.NPZ_NAME)
    monkeypatch.setenv(cifar.DATA_DIR_ENV, str(tmp_path))
    status = find_cifar10(hash=True)
    assert status.found
    assert status.data_dir == tmp_path
    assert "KTHEORY_DATA_DIR" in status.data_dir_source
    assert status.sha256 == hashlib.sha256(status.path.read_bytes()).hexdigest()


def test_default_data_dir_is_repo_data():
    assert cifar.default_data_dir() == Path(cifar.__file__).resolve().parents[2] / "data"


def test_missing_data_message(tmp_path, monkeypatch):
    monkeypatch.delenv(cifar.DATA_DIR_ENV, raising=False)
    status = find_cifar10(tmp_path)
    assert not status.found
    assert str(tmp_path / "cifar10" / cifar.NPZ_NAME) in status.describe()
    with pytest.raises(DataFileError) as info:
        load_cifar10(tmp_path)
    message = str(info.value)
    assert "not found" in message
    assert str(tmp_path / cifar.ARCHIVE_NAME) in message
    assert "KTHEORY_DATA_DIR" in message


def test_npz_rejects_other_classes(tmp_path):
    path = tmp_path / cifar.NPZ_NAME
    _write_npz(path)
    with pytest.raises(DataFileError, match="classes 0 .airplane. and 1 .automobile. only"):
        load_cifar10(path=path, classes=(0, 3))
    with pytest.raises(DataFileError, match="was not considered for classes"):
        load_cifar10(tmp_path, classes=(2, 3))


def test_corrupt_npz_bytes(tmp_path):
    path = tmp_path / cifar.NPZ_NAME
    path.write_bytes(b"PK\x03\x04 this is not a zip archive")
    with pytest.raises(DataFileError, match="is not a readable npz archive"):
        load_cifar10(path=path)


def test_npz_missing_key(tmp_path):
    path = tmp_path / cifar.NPZ_NAME
    _write_npz(path, y_test=None)
    with pytest.raises(DataFileError, match=r"lacks the arrays \['y_test'\]") as info:
        load_cifar10(path=path)
    assert "not a readable npz archive" not in str(info.value)


def test_garbage_npz_message(tmp_path):
    path = tmp_path / cifar.NPZ_NAME
    path.write_bytes(b"garbage that numpy takes for a pickle" * 10)
    with pytest.raises(DataFileError, match="not a zip archive") as info:
        load_cifar10(path=path)
    assert "allow_pickle" not in str(info.value)
    assert "Replace the file" in str(info.value)


def test_missing_directory_named(tmp_path):
    missing = tmp_path / "no such folder"
    assert "does not exist" in find_cifar10(missing).describe()
    with pytest.raises(DataFileError, match="does not exist; check the path"):
        load_cifar10(missing)


@pytest.mark.parametrize("override, pattern", [
    ({"x_train": np.ones((12, 10), dtype=np.uint8)}, r"x_train must be uint8 with shape \(N, 3072\)"),
    ({"x_train": np.ones((12, 3072), dtype=np.float32)}, "x_train must be uint8"),
    ({"y_train": np.zeros(5, dtype=np.uint8)}, "y_train must hold 12 integer labels"),
    ({"y_test": np.array([0, 1, 2, 1], dtype=np.uint8)}, "y_test must contain only the labels 0 and 1"),
])
def test_npz_wrong_layout(tmp_path, override, pattern):
    path = tmp_path / cifar.NPZ_NAME
    _write_npz(path, **override)
    with pytest.raises(DataFileError, match=pattern):
        load_cifar10(path=path)


def test_npz_object_array_not_unpickled(tmp_path):
    path = tmp_path / cifar.NPZ_NAME
    np.savez(path, x_train=np.array([{"a": 1}], dtype=object), y_train=np.zeros(1), x_test=np.zeros(1), y_test=np.zeros(1))
    with pytest.raises(DataFileError, match="not a readable npz archive"):
        load_cifar10(path=path)


def test_corrupt_tar(tmp_path):
    (tmp_path / cifar.ARCHIVE_NAME).write_bytes(gzip.compress(b"not a tar file at all" * 50))
    with pytest.raises(DataFileError, match="is not a readable gzip-compressed tar archive"):
        load_cifar10(tmp_path)


def test_tar_missing_member(tmp_path):
    batches = _batches()
    del batches["data_batch_3"]
    _write_tar(tmp_path, batches)
    with pytest.raises(DataFileError, match="has no member cifar-10-batches-py/data_batch_3"):
        load_cifar10(tmp_path)


def test_folder_missing_batch(tmp_path):
    batches = _batches()
    del batches["test_batch"]
    _write_folder(tmp_path, batches)
    with pytest.raises(DataFileError, match="is missing test_batch"):
        load_cifar10(tmp_path)


def test_folder_bad_pickle(tmp_path):
    folder = _write_folder(tmp_path, _batches())
    (folder / "data_batch_2").write_bytes(b"\x80\x02garbage")
    with pytest.raises(DataFileError, match=r"data_batch_2 could not be unpickled"):
        load_cifar10(tmp_path)


@pytest.mark.parametrize("mutate, pattern", [
    (lambda b: b.pop(b"labels"), "is not an official CIFAR-10 batch"),
    (lambda b: b.__setitem__(b"data", b[b"data"][:, :100]), r"must be uint8 with shape \(N, 3072\)"),
    (lambda b: b.__setitem__(b"data", b[b"data"].astype(np.int16)), "must be uint8"),
    (lambda b: b.__setitem__(b"labels", b[b"labels"][:-1]), "must be 8 integers in 0..9"),
    (lambda b: b.__setitem__(b"labels", [11] * PER_BATCH), "must be 8 integers in 0..9"),
])
def test_folder_wrong_batch_layout(tmp_path, mutate, pattern):
    batches = _batches()
    mutate(batches["data_batch_1"])
    _write_folder(tmp_path, batches)
    with pytest.raises(DataFileError, match=pattern):
        load_cifar10(tmp_path)


def test_bad_arguments(tmp_path):
    _write_npz(tmp_path / cifar.NPZ_NAME)
    with pytest.raises(InvalidArgumentError, match="classes must be two distinct integers in 0..9; got \\(1, 1\\)"):
        load_cifar10(tmp_path, classes=(1, 1))
    with pytest.raises(InvalidArgumentError, match="classes must be two distinct"):
        load_cifar10(tmp_path, classes=(0, 10))
    with pytest.raises(InvalidArgumentError, match="subsampling needs randomness"):
        load_cifar10(tmp_path, n_train=4)
    with pytest.raises(InvalidArgumentError, match="either rng or seed"):
        load_cifar10(tmp_path, n_train=4, seed=1, rng=np.random.default_rng(1))
    with pytest.raises(InvalidArgumentError, match="n_train = 13 exceeds the 12 rows"):
        load_cifar10(tmp_path, n_train=13, seed=1)
    with pytest.raises(InvalidArgumentError, match="n_test must be a positive integer or None; got 0"):
        load_cifar10(tmp_path, n_test=0, seed=1)


def test_stratified_shortfall(tmp_path):
    _write_npz(tmp_path / cifar.NPZ_NAME, y_train=np.array([0] * 10 + [1] * 2, dtype=np.uint8))
    with pytest.raises(InvalidArgumentError, match="needs 3 rows of the second class but only 2 exist"):
        load_cifar10(tmp_path, n_train=6, seed=1)
    data = load_cifar10(tmp_path, n_train=6, seed=1, stratified=False)
    assert data.X.shape == (6, cifar.PIXELS)


def test_all_zero_image(tmp_path):
    x = np.full((12, cifar.PIXELS), 7, dtype=np.uint8)
    x[3] = 0
    _write_npz(tmp_path / cifar.NPZ_NAME, x_train=x)
    with pytest.raises(DataFileError, match="all-zero image at row 3"):
        load_cifar10(tmp_path)


def test_read_raw_arrays(tmp_path):
    batches = _batches()
    _write_tar(tmp_path, batches)
    x, y, xt, yt = read_cifar10(tmp_path / cifar.ARCHIVE_NAME)
    assert x.shape == (5 * PER_BATCH, cifar.PIXELS)
    assert x.dtype == np.uint8
    np.testing.assert_array_equal(yt, batches["test_batch"][b"labels"])
    with pytest.raises(DataFileError, match="does not exist"):
        read_cifar10(tmp_path / "nothing.npz")


def test_real_npz_where_loader_looks():
    # find_cifar10() with no argument follows the loader's search order: KTHEORY_DATA_DIR, then <repo>/data.
    status = find_cifar10()
    if not status.found or status.format != "npz":
        pytest.skip(status.describe())
    assert cifar.file_sha256(status.path) == REAL_NPZ_SHA256
    data = load_cifar10(path=status.path)
    assert data.X.shape == (10000, cifar.PIXELS)
    assert data.X_test.shape == (2000, cifar.PIXELS)
    # The file lists 5000 airplanes then 5000 automobiles (1000 and 1000 in the test split).
    np.testing.assert_array_equal(data.y, np.repeat([1.0, -1.0], 5000))
    np.testing.assert_array_equal(data.y_test, np.repeat([1.0, -1.0], 1000))
    np.testing.assert_allclose(np.linalg.norm(data.X, axis=1), 1.0, rtol=0, atol=4e-16)
