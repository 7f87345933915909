"""Benchmark the spectral core: all poles by route (a) against numpy.linalg.eigvals, and extreme poles.

Writes benchmarks/results/spectral.json (or --out). Run it alone on a quiet machine, for example
``nice .venv/bin/python benchmarks/bench_spectral.py``; it takes several minutes at the default sizes.

Problem. Inputs are CIFAR-10 airplane/automobile images scaled to unit norm when the data are
found (see ktheory.data.cifar for the search order), otherwise points on the unit sphere in
R^3072. Weights follow the paper's initialisation, w_k ~ N(0, kappa^2 I) with kappa = 1e-2 and
a_k uniform on {-1, +1}, with lambda = 0.01 and m = 20 units, so n = (m n) / 20 samples. With
CIFAR-10 images, whose pixels are all nonnegative, a ReLU unit tends to be active on most samples
or on few, and the fraction of active (unit, sample) pairs is recorded per run.

Measured per activation and size: wall time of route (a) with eigenvalues only and with
eigenvectors, of numpy.linalg.eigvals on the dense Hbar (its assembly timed separately), their
ratio, the largest pole difference relative to ||Hbar||_2, the largest imaginary part numpy
returns, and the relative eigen-residuals ||Hbar r - p r|| / (||Hbar||_2 ||r||) of the right and
left vectors. Then the 10 smallest and 10 largest nonzero poles at n = 2000, m = 20 by
extreme_poles, with their residuals and Theorem 3.3's bounds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import scipy

from ktheory.data import find_cifar10, load_cifar10, sphere_inputs
from ktheory.model import init_params
from ktheory.ntk import gram_blocks
from ktheory.spectral import (EIGH_DRIVER_VALUES, EIGH_DRIVER_VECTORS, block_matrix,
                              eigen_decomposition, extreme_poles, unit_factors)

KAPPA = 1e-2  # the paper's initial weight scale
LAM = 0.01  # the paper's lambda
SEED = 20221017
TARGETS = {"tanh": 5.0, "relu": 3.0}  # required speedup of route (a) over numpy at m n = 4000


def blas_info() -> dict:
    """Return the BLAS libraries of numpy and scipy and the thread settings that are visible."""
    info = {}
    for name, module in (("numpy", np), ("scipy", scipy)):
        try:
            config = module.show_config(mode="dicts")
            blas = config.get("Build Dependencies", {}).get("blas", {})
            info[name] = {"version": module.__version__, "blas": blas.get("name"),
                          "blas_version": blas.get("version"),
                          "openblas_configuration": blas.get("openblas configuration")}
        except Exception as exc:  # noqa: BLE001 - show_config differs between versions
            info[name] = {"version": module.__version__, "error": repr(exc)}
    try:
        import threadpoolctl  # optional: only used when already installed

        info["threadpools"] = threadpoolctl.threadpool_info()
    except ImportError:
        info["threadpools"] = None
    info["thread_env"] = {key: os.environ.get(key) for key in
                          ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    info["cpu_count"] = os.cpu_count()
    info["python"] = sys.version.split()[0]
    info["platform"] = platform.platform()
    return info


def make_inputs(n: int, rng: np.random.Generator, data_dir) -> tuple[np.ndarray, str]:
    status = find_cifar10(data_dir)
    if status.found:
        data = load_cifar10(data_dir, n_train=n, rng=rng)
        return data.X, f"cifar10 {status.path} (n = {n}, stratified)"
    return sphere_inputs(rng, n, 3072), f"unit sphere in R^3072 ({status.describe()})"


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def spectral_norm(A, iterations: int = 100) -> float:
    """Estimate ||A||_2 by power iteration on A^T A (a lower bound that converges from below)."""
    x = np.random.default_rng(0).standard_normal(A.shape[1])
    value = 0.0
    for _ in range(iterations):
        y = A.T @ (A @ x)
        value = float(np.sqrt(np.linalg.norm(y) / np.linalg.norm(x)))
        x = y / np.linalg.norm(y)
    return value


def relative_residuals(Hbar, norm, basis):
    R, L, p = basis.right, basis.left, basis.nonzero
    right = np.linalg.norm(Hbar @ R - R * p, axis=0) / (norm * np.linalg.norm(R, axis=0))
    left = np.linalg.norm(Hbar.T @ L - L * p, axis=0) / (norm * np.linalg.norm(L, axis=0))
    return float(right.max(initial=0.0)), float(left.max(initial=0.0))


def dense_case(act: str, mn: int, m: int, data_dir) -> dict:
    n = mn // m
    rng = np.random.default_rng([SEED, mn])
    X, source = make_inputs(n, rng, data_dir)
    a, W = init_params(rng, m, X.shape[1], kappa=KAPPA)
    H = gram_blocks(X, W, act)
    active = float(np.count_nonzero(np.einsum("kii->ki", H) > 0)) / (m * n)

    _, t_factors = timed(unit_factors, H)
    values, t_values = timed(eigen_decomposition, H, a, LAM, vectors=False)
    basis, t_vectors = timed(eigen_decomposition, H, a, LAM, vectors=True)
    Hbar, t_build = timed(block_matrix, H, a, LAM)
    numpy_values, t_numpy = timed(np.linalg.eigvals, Hbar)
    norm = spectral_norm(Hbar)
    order = np.argsort(numpy_values.real)
    numpy_sorted = numpy_values[order]
    right_res, left_res = relative_residuals(Hbar, norm, basis)
    return {
        "activation": act, "mn": mn, "m": m, "n": n, "d": int(X.shape[1]), "inputs": source,
        "active_fraction": active, "symmetric_size": int(values.info["size"]),
        "zero_poles": int(values.zero_count),
        "time_unit_factors_s": t_factors, "time_route_a_values_s": t_values, "time_route_a_vectors_s": t_vectors,
        "time_build_dense_hbar_s": t_build, "time_numpy_eigvals_s": t_numpy,
        "speedup_values": t_numpy / t_values, "speedup_vectors": t_numpy / t_vectors,
        "max_pole_difference_rel": float(np.abs(numpy_sorted.real - values.poles).max() / norm),
        "max_numpy_imag_rel": float(np.abs(numpy_sorted.imag).max() / norm),
        "max_right_residual_rel": right_res, "max_left_residual_rel": left_res,
        "hbar_norm_estimate": norm, "largest_pole": float(values.poles[-1]),
        "smallest_nonzero_pole": float(values.nonzero.min()) if values.nonzero.size else None,
        "load_average_after": os.getloadavg(),
    }


def extreme_case(act: str, n: int, m: int, k: int, data_dir) -> dict:
    rng = np.random.default_rng([SEED, n, 1])
    X, source = make_inputs(n, rng, data_dir)
    a, W = init_params(rng, m, X.shape[1], kappa=KAPPA)
    H, t_gram = timed(gram_blocks, X, W, act)
    factors, t_factors = timed(unit_factors, H)
    largest, t_la = timed(extreme_poles, H, a, LAM, k=k, which="LA", return_details=True, factors=factors)
    smallest, t_sa = timed(extreme_poles, H, a, LAM, k=k, which="SA", return_details=True, factors=factors)
    # Theorem 3.3's lower bound lambda * sigma_0 and the upper bound max h (a_bar + lambda) of
    # pole_bounds, from the same eigenvalues (pole_bounds itself would eigendecompose H again).
    abar = float(a @ a) / m
    bounds = {"lower": LAM * float(factors.h.min()), "upper": float(factors.h.max()) * (abar + LAM)}
    return {
        "activation": act, "n": n, "m": m, "d": int(X.shape[1]), "inputs": source, "k": k,
        "symmetric_size": largest.size, "zero_poles": largest.zero_count,
        "time_gram_blocks_s": t_gram, "time_unit_factors_s": t_factors, "time_largest_s": t_la, "time_smallest_s": t_sa,
        "largest": largest.poles.tolist(), "smallest": smallest.poles.tolist(),
        "max_residual_largest_rel": float(largest.residuals.max()),
        "max_residual_smallest_rel": float(smallest.residuals.max()),
        "matvecs_largest": largest.matvecs, "matvecs_smallest": smallest.matvecs,
        "theorem33_lower_bound": bounds["lower"], "upper_bound": bounds["upper"],
        "smallest_above_lower_bound": bool(smallest.poles.min() >= bounds["lower"]),
        "largest_below_upper_bound": bool(largest.poles.max() <= bounds["upper"]),
        "load_average_after": os.getloadavg(),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 4000], help="values of m n")
    parser.add_argument("--m", type=int, default=20, help="hidden units")
    parser.add_argument("--activations", nargs="+", default=["tanh", "relu"])
    parser.add_argument("--extreme-n", type=int, default=2000, help="samples for the extreme-pole run (0 skips it)")
    parser.add_argument("--extreme-k", type=int, default=10, help="poles at each end")
    parser.add_argument("--data-dir", default=None, help="CIFAR-10 data directory (default: the loader's search)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "spectral.json"))
    args = parser.parse_args(argv)

    result = {"benchmark": "spectral", "settings": {"kappa": KAPPA, "lam": LAM, "seed": SEED, "m": args.m,
                                                   "eigh_driver_values": EIGH_DRIVER_VALUES,
                                                   "eigh_driver_vectors": EIGH_DRIVER_VECTORS},
              "machine": blas_info(), "load_average_before": os.getloadavg(), "dense": [], "extreme": []}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)

    def save():
        # Written after every case, so an interrupted run keeps what it measured.
        out.write_text(json.dumps(result, indent=2, default=float) + "\n")

    for mn in args.sizes:
        for act in args.activations:
            case = dense_case(act, mn, args.m, args.data_dir)
            result["dense"].append(case)
            save()
            print(f"{act} mn={mn}: route (a) {case['time_route_a_values_s']:.2f} s, vectors "
                  f"{case['time_route_a_vectors_s']:.2f} s, numpy {case['time_numpy_eigvals_s']:.2f} s, "
                  f"speedup {case['speedup_values']:.1f}x, diff {case['max_pole_difference_rel']:.1e}, "
                  f"residual {max(case['max_right_residual_rel'], case['max_left_residual_rel']):.1e}", flush=True)
    if args.extreme_n:
        for act in args.activations:
            case = extreme_case(act, args.extreme_n, args.m, args.extreme_k, args.data_dir)
            result["extreme"].append(case)
            save()
            print(f"{act} extreme n={args.extreme_n}: factors {case['time_unit_factors_s']:.1f} s, largest "
                  f"{case['time_largest_s']:.1f} s, smallest {case['time_smallest_s']:.1f} s", flush=True)
    at_target = [c for c in result["dense"] if c["mn"] == 4000 and c["activation"] in TARGETS]
    result["targets"] = {c["activation"]: {"required_speedup": TARGETS[c["activation"]],
                                           "speedup": c["speedup_values"],
                                           "met": c["speedup_values"] >= TARGETS[c["activation"]],
                                           "residual_target": 1e-12,
                                           "residual_met": max(c["max_right_residual_rel"], c["max_left_residual_rel"]) <= 1e-12}
                         for c in at_target}
    save()
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
