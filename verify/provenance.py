"""Provenance of a report run: code version, software, BLAS, hardware, seeds, data hashes, timings.

Everything here is best effort: a missing git, an uninstalled package or an unknown BLAS is
recorded as "unknown" (or "not installed") instead of failing the run.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.metadata
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

__all__ = ["PACKAGES", "ENV_VARS", "git_state", "package_versions", "environment_variables", "blas_info",
           "cpu_info", "sha256_file", "collect_seeds", "command_line", "collect"]

PACKAGES = ("ktheory", "numpy", "scipy", "numba", "sympy", "mpmath", "matplotlib", "tqdm", "hypothesis")
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
ENV_VARS = ("KTHEORY_DATA_DIR", *THREAD_ENV_VARS)
"""Environment variables that change a run's result (the data folder) or its speed (thread counts)."""
GIT_TIMEOUT_S = 10.0  # a git call on a local repository takes milliseconds; this only guards hangs


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout


def git_state(repo: Path) -> dict:
    """Return {"commit", "dirty"} for the checkout at ``repo``; "unknown" where git cannot tell.

    ``dirty`` is true when tracked files differ from the commit (untracked files are ignored).
    """
    commit = _git(["rev-parse", "HEAD"], repo)
    if commit is None:
        return {"commit": "unknown", "dirty": "unknown"}
    status = _git(["status", "--porcelain", "--untracked-files=no"], repo)
    dirty = "unknown" if status is None else bool(status.strip())
    return {"commit": commit.strip(), "dirty": dirty}


def package_versions(names=PACKAGES) -> dict:
    """Return {package: version or "not installed"}."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def environment_variables(names=ENV_VARS) -> dict:
    """Return {variable: value or "unset"} for the environment variables ``names``."""
    return {name: os.environ.get(name, "unset") for name in names}


def _numpy_blas() -> dict:
    import numpy as np

    try:
        config = np.show_config(mode="dicts")
    except TypeError:  # numpy < 2.0 has no mode argument
        return {"name": "unknown (numpy < 2.0 does not report it as data)"}
    deps = (config or {}).get("Build Dependencies", {})
    blas = deps.get("blas", {})
    lapack = deps.get("lapack", {})
    return {
        "name": blas.get("name", "unknown"),
        "version": blas.get("version", "unknown"),
        "lapack": lapack.get("name", "unknown"),
        "simd": (config or {}).get("SIMD Extensions", {}),
    }


def _loaded_openblas() -> list[dict]:
    """Query every OpenBLAS library mapped into this process for its thread count and build config.

    Reads /proc/self/maps (Linux only) and calls ``openblas_get_num_threads`` under the symbol
    prefixes and suffixes that numpy's and scipy's wheels use (``scipy_`` and ``64_``). The same
    query threadpoolctl makes, for when threadpoolctl is not installed.
    """
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            paths = sorted({line.split()[-1] for line in maps
                            if len(line.split()) >= 6 and "openblas" in os.path.basename(line.split()[-1]).lower()})
    except OSError:
        return []
    found = []
    for path in paths:
        try:
            library = ctypes.CDLL(path)  # already loaded, so this only returns a handle
        except OSError:
            continue
        for symbol_prefix in ("scipy_", ""):
            for symbol_suffix in ("64_", ""):
                try:
                    get_threads = getattr(library, f"{symbol_prefix}openblas_get_num_threads{symbol_suffix}")
                    get_config = getattr(library, f"{symbol_prefix}openblas_get_config{symbol_suffix}")
                except AttributeError:
                    continue
                get_threads.restype = ctypes.c_int
                get_config.restype = ctypes.c_char_p
                found.append({"filepath": path, "num_threads": int(get_threads()),
                              "config": (get_config() or b"").decode(errors="replace")})
                break
            else:
                continue
            break
    return found


def blas_info() -> dict:
    """Return numpy's BLAS build and the BLAS libraries loaded in this process with their thread
    counts (from threadpoolctl when importable, else by querying the loaded OpenBLAS libraries
    directly). The thread-count environment variables are in :func:`environment_variables`."""
    info = {"numpy_build": _numpy_blas()}
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        info["threadpools"] = _loaded_openblas() or "threadpoolctl not installed and no OpenBLAS found in /proc/self/maps"
    else:
        info["threadpools"] = [
            {key: pool.get(key) for key in ("user_api", "internal_api", "version", "num_threads", "filepath")}
            for pool in threadpool_info()
        ]
    try:
        import numba

        info["numba_threads"] = int(numba.config.NUMBA_NUM_THREADS)
    except ImportError:
        info["numba_threads"] = "numba not installed"
    return info


def cpu_info() -> dict:
    """Return the CPU count, the CPUs this process may use, the machine and the platform."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not available on macOS and Windows
        usable = os.cpu_count()
    return {"cpu_count": os.cpu_count(), "usable_cpus": usable, "machine": platform.machine(),
            "platform": platform.platform(), "processor": platform.processor() or "unknown"}


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Return the hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def collect_seeds(config, prefix: str = "") -> dict:
    """Return every key whose name contains "seed" in a nested config, as {"dotted.path": value}.

    A value is a scalar or a list of ints, such as the experiments' list of seeds.
    """
    seeds = {}
    if isinstance(config, dict):
        for key, value in config.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            is_seed_list = isinstance(value, list) and all(isinstance(v, int) for v in value)
            if "seed" in str(key).lower() and (is_seed_list or not isinstance(value, (dict, list))):
                seeds[path] = value
            else:
                seeds.update(collect_seeds(value, path))
    elif isinstance(config, list):
        for index, value in enumerate(config):
            seeds.update(collect_seeds(value, f"{prefix}[{index}]"))
    return seeds


def command_line(argv: list[str] | None = None) -> str:
    """Return the command line as a shell-quoted string, with the module run as ``python -m verify``."""
    args = sys.argv[1:] if argv is None else list(argv)
    return shlex.join(["python", "-m", "verify", *args])


def collect(repo: Path, config: dict, argv: list[str] | None, data_files: dict, wall_times: dict) -> dict:
    """Gather the provenance record written into ledger.json and the report."""
    return {
        "git": git_state(repo),
        "python": {"version": platform.python_version(), "implementation": platform.python_implementation(),
                   "executable": sys.executable},
        "packages": package_versions(),
        "environment": environment_variables(),
        "blas": blas_info(),
        "cpu": cpu_info(),
        "seeds": collect_seeds(config),
        "data_files": data_files,
        "wall_time_s": wall_times,
        "command": command_line(argv),
        "profile": config.get("profile", {}).get("name"),
    }
