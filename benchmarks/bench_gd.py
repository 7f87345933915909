"""Benchmark one gradient-descent step of ktheory against BLAS, NumPy and (optionally) PyTorch.

Writes ``benchmarks/results/gd.json``. Every figure is measured in this process on synthetic
float64 data (rows of X scaled to unit norm, the experiments' initialisation kappa = 1e-2,
lambda = 0.01 with privileged features of a random teacher). Each timing is the minimum over
``--repeats`` runs after one warm-up; the JSON also keeps the median.

Columns per (n, d, m, activation):
- blas_floor_weight: the two GEMMs of a weight-form step, (W X^T)^T and E^T X, timed alone.
- blas_floor_kernel: the one GEMM of a kernel-form step, K E with K = X X^T (n x n).
- numpy_step: the plain NumPy step (reference.reference_step plus the update).
- fused / blocked / gemm: the weight-form kernels plus the update, as gradient_descent runs them
  (gemm = two full BLAS products around the compiled residuals).
- kernel_form: the kernel-form step (compiled residuals, K E, updates of Z and S).
- torch_step: the same two-GEMM step written in PyTorch on the CPU, when torch imports.
and the stacked run of four students of m = 20 against one.

Usage: ``nice python benchmarks/bench_gd.py [--quick] [--repeats R] [--out PATH]``. For one thread
everywhere set OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=NUMBA_NUM_THREADS=1 before starting it. Run it alone:
two-thread BLAS slows down many times when another process keeps a core busy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numba
import numpy as np

from ktheory.activations import get_activation
from ktheory.integrate import kernels
from ktheory.integrate.gd import ModelSpec, _check_model, _KernelState, _Stack, _WeightState
from ktheory.integrate.reference import reference_step

ROOT = Path(__file__).resolve().parent
CONFIGS = [(10000, 3072, 20), (10000, 3072, 100), (1000, 3072, 20)]
ACTIVATIONS = ["relu", "tanh"]
WEIGHT_KERNELS = ["fused", "blocked", "gemm"]
LAM = 0.01
STEP = 2e-4
KAPPA = 1e-2


def timed(fn, repeats):
    return timed_group({"only": fn}, repeats)["only"]


def timed_group(fns: dict, repeats):
    """Time each callable ``repeats`` times, interleaved round by round after one warm-up each.

    Interleaving exposes every method to the same background load, so their ratios stay
    meaningful when another process competes for the cores.
    """
    for fn in fns.values():
        fn()
    samples = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t0)
    return {name: {"min_s": min(v), "median_s": statistics.median(v)} for name, v in samples.items()}


def make_problem(rng, n, d, m, activation):
    X = rng.standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    W0 = KAPPA * rng.standard_normal((m, d))
    a = rng.choice([-1.0, 1.0], size=m)
    y = rng.choice([-1.0, 1.0], size=n)
    teacher = rng.standard_normal((m, d)) / np.sqrt(d)
    Phi = get_activation(activation).sigma(X @ teacher.T)
    return X, y, a, W0, Phi


def stack_for(X, specs):
    n, d = X.shape
    return _Stack([_check_model(s, j, n, d, None) for j, s in enumerate(specs)], n)


@numba.njit(parallel=True, cache=True)
def _parallel_sum(X):
    n = X.shape[0]
    parts = np.zeros(n)
    for i in numba.prange(n):
        acc = 0.0
        row = X[i]
        for j in range(row.shape[0]):
            acc += row[j]
        parts[i] = acc
    return parts.sum()


def bandwidth(X, repeats):
    times = timed_group({"one": lambda: X.sum(), "two": lambda: _parallel_sum(X)}, repeats)
    one, two = times["one"], times["two"]
    gb = X.nbytes / 1e9
    return {
        "bytes_of_X": X.nbytes,
        "numpy_sum_s": one["min_s"], "numpy_sum_GBps": gb / one["min_s"],
        "numba_parallel_sum_s": two["min_s"], "numba_parallel_sum_GBps": gb / two["min_s"],
    }


def torch_step(X, y, a, W0, Phi, activation):
    """Return a callable doing the two-GEMM step in PyTorch, or a dict saying why it is skipped."""
    try:
        import torch
    except ImportError as exc:
        return {"status": "skipped", "reason": f"torch not importable ({exc})"}
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1))
    Xt = torch.from_numpy(X)
    yt = torch.from_numpy(y)
    Pt = torch.from_numpy(Phi)
    c = torch.from_numpy(a / np.sqrt(a.size))
    W = torch.from_numpy(W0.copy())
    if activation == "relu":
        def sig(z):
            return torch.relu(z), (z > 0).to(z.dtype)
    else:
        def sig(z):
            t = torch.tanh(z)
            return t, 1.0 - t * t

    def step():
        with torch.no_grad():
            Z = Xt @ W.T
            F, D = sig(Z)
            r = yt - F @ c
            E = D * (torch.outer(r, c) + LAM * (Pt - F))
            W.add_(STEP * (E.T @ Xt))

    return step


def bench_config(rng, n, d, m, activation, repeats, with_torch):
    X, y, a, W0, Phi = make_problem(rng, n, d, m, activation)
    spec = ModelSpec(y=y, a=a, W0=W0, Phi=Phi, lam=LAM, activation=activation, step=STEP)
    stack = stack_for(X, [spec])
    row = {"n": n, "d": d, "m": m, "activation": activation}

    E = rng.standard_normal((n, m))
    W_numpy = W0.copy()

    def numpy_step():
        _, _, direction, _, _ = reference_step(X, y, a, W_numpy, Phi, LAM, activation)
        W_numpy[...] += STEP * direction

    fns = {"blas_floor_weight": lambda: ((W0 @ X.T).T, E.T @ X), "numpy_step": numpy_step}
    for name in WEIGHT_KERNELS:
        state = _WeightState(X, stack, name)
        fns[name] = lambda s=state: (s.evaluate(), s.update())
    if n < 2 * d:
        kstate = _KernelState(X, stack)
        fns["blas_floor_kernel"] = lambda: kstate.K @ E
        fns["kernel_form"] = lambda: (kstate.evaluate(), kstate.update())
    torch_fn = torch_step(X, y, a, W0, Phi, activation) if with_torch else None
    if isinstance(torch_fn, dict):
        row["torch_step"] = torch_fn
    elif torch_fn is not None:
        fns["torch_step"] = torch_fn
    row.update(timed_group(fns, repeats))
    if torch_fn is not None and not isinstance(torch_fn, dict):
        import torch

        row["torch_step"].update(status="ok", version=torch.__version__, threads=torch.get_num_threads())

    floor = row["blas_floor_weight"]["min_s"]
    best_weight = min(row[name]["min_s"] for name in WEIGHT_KERNELS)
    ratios = {f"{name}_over_blas_floor": row[name]["min_s"] / floor for name in WEIGHT_KERNELS}
    ratios.update({
        "numpy_over_blas_floor": row["numpy_step"]["min_s"] / floor,
        "best_weight_over_numpy": best_weight / row["numpy_step"]["min_s"],
    })
    if row.get("torch_step", {}).get("status") == "ok":
        ratios["best_weight_over_torch"] = best_weight / row["torch_step"]["min_s"]
        ratios["torch_over_blas_floor"] = row["torch_step"]["min_s"] / floor
    if "kernel_form" in row:
        ratios["kernel_form_over_kernel_floor"] = row["kernel_form"]["min_s"] / row["blas_floor_kernel"]["min_s"]
        ratios["weight_over_kernel_form"] = best_weight / row["kernel_form"]["min_s"]
    row["ratios"] = ratios
    return row


def bench_many(rng, n, d, repeats, count=4, m=20, activation="relu"):
    X, y, _, _, _ = make_problem(rng, n, d, m, activation)
    specs = []
    for _ in range(count):
        _, _, a, W0, Phi = make_problem(rng, 8, d, m, activation)  # fresh a, W0 per student
        Phi = get_activation(activation).sigma(X @ (rng.standard_normal((m, d)) / np.sqrt(d)).T)
        specs.append(ModelSpec(y=y, a=a, W0=W0, Phi=Phi, lam=LAM, activation=activation, step=STEP))
    one_stack = stack_for(X, specs[:1])
    all_stack = stack_for(X, specs)
    out = {"n": n, "d": d, "m": m, "students": count, "activation": activation}
    fns = {}
    for name in WEIGHT_KERNELS:
        one = _WeightState(X, one_stack, name)
        many = _WeightState(X, all_stack, name)
        fns[name + "/one"] = lambda s=one: (s.evaluate(), s.update())
        fns[name + "/stacked"] = lambda s=many: (s.evaluate(), s.update())
    times = timed_group(fns, repeats)
    for name in WEIGHT_KERNELS:
        t1, tm = times[name + "/one"], times[name + "/stacked"]
        out[name] = {"one": t1, "stacked": tm, "stacked_over_one": tm["min_s"] / t1["min_s"]}
    best_one = min(out[name]["one"]["min_s"] for name in WEIGHT_KERNELS)
    best_many = min(out[name]["stacked"]["min_s"] for name in WEIGHT_KERNELS)
    out["best_stacked_over_best_one"] = best_many / best_one
    return out


def environment():
    info = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "numba_threads": numba.get_num_threads(),
        "numba_threading_layer": None,
        "thread_env": {k: os.environ.get(k) for k in
                       ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"]},
        "loadavg_start": os.getloadavg(),
    }
    try:
        cfg = np.show_config(mode="dicts")
        info["numpy_blas"] = cfg["Build Dependencies"]["blas"]
    except Exception as exc:  # show_config's layout is not a stable API
        info["numpy_blas"] = f"unavailable ({exc})"
    try:
        import scipy

        info["scipy"] = scipy.__version__
        info["scipy_blas"] = scipy.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except Exception as exc:
        info["scipy_blas"] = f"unavailable ({exc})"
    try:
        with open("/proc/cpuinfo") as handle:
            names = [line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")]
        info["cpu_model"] = names[0] if names else None
    except OSError:
        info["cpu_model"] = None
    return info


def _ms(row, key):
    entry = row.get(key)
    if not isinstance(entry, dict) or "min_s" not in entry:
        return "-"
    return f"{1e3 * entry['min_s']:.1f}"


def render_markdown(result) -> str:
    """Return a Markdown summary of a result dict: step times in ms and the three targets."""
    cols = ["blas_floor_weight", "numpy_step", "fused", "blocked", "gemm", "torch_step",
            "blas_floor_kernel", "kernel_form"]
    lines = ["| n | d | m | activation | " + " | ".join(cols) + " |",
             "|" + "---|" * (4 + len(cols))]
    for row in result["steps"]:
        lines.append(f"| {row['n']} | {row['d']} | {row['m']} | {row['activation']} | "
                     + " | ".join(_ms(row, c) for c in cols) + " |")
    lines.append("")
    targets = []
    for row in result["steps"]:
        ratios = row["ratios"]
        tag = f"n={row['n']}, m={row['m']}, {row['activation']}"
        if row["n"] == 10000 and row["m"] == 20 and "best_weight_over_torch" in ratios:
            fused_torch = row["fused"]["min_s"] / row["torch_step"]["min_s"]
            targets.append(f"- fused weight step / PyTorch step ({tag}): {fused_torch:.2f} (target <= 1)")
        if "weight_over_kernel_form" in ratios:
            targets.append(f"- best weight step / kernel-form step ({tag}): {ratios['weight_over_kernel_form']:.2f} "
                           "(target >= 4)")
    many = result["stacked_students"]
    targets.append(f"- four stacked students of m = 20 / one student (best kernel each): "
                   f"{many['best_stacked_over_best_one']:.2f} (target <= 2)")
    bw = result["memory_bandwidth"]
    env = result["environment"]
    lines += targets
    lines += ["", f"One read of X ({bw['bytes_of_X'] / 1e6:.0f} MB): {1e3 * bw['numba_parallel_sum_s']:.1f} ms "
              f"({bw['numba_parallel_sum_GBps']:.1f} GB/s, two threads), "
              f"{1e3 * bw['numpy_sum_s']:.1f} ms ({bw['numpy_sum_GBps']:.1f} GB/s, numpy sum).",
              f"Load average at start / end: {env['loadavg_start']} / {env.get('loadavg_end')}."]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 2000 instead of 10000, for a smoke run")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per figure (minimum is reported)")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch column")
    parser.add_argument("--markdown", type=Path, default=None,
                        help="print the Markdown summary of an existing result JSON and exit")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "gd.json", help="output JSON path")
    args = parser.parse_args()
    if args.markdown is not None:
        print(render_markdown(json.loads(args.markdown.read_text())))
        return

    rng = np.random.default_rng(20221017)
    configs = [(2000 if n == 10000 else n, d, m) for n, d, m in CONFIGS] if args.quick else CONFIGS
    result = {"environment": environment(), "settings": {"lam": LAM, "step": STEP, "kappa": KAPPA,
                                                         "repeats": args.repeats, "quick": args.quick}}
    big_n = configs[0][0]
    X = np.random.default_rng(1).standard_normal((big_n, configs[0][1]))
    result["memory_bandwidth"] = bandwidth(X, args.repeats)
    del X
    rows = []
    for n, d, m in configs:
        for activation in ACTIVATIONS:
            row = bench_config(rng, n, d, m, activation, args.repeats, not args.no_torch)
            rows.append(row)
            print(f"n={n} d={d} m={m} {activation}: " + ", ".join(f"{k}={v:.3g}" for k, v in row["ratios"].items()),
                  flush=True)
    result["steps"] = rows
    result["stacked_students"] = bench_many(rng, big_n, configs[0][1], args.repeats)
    print("four students stacked / one:", result["stacked_students"]["best_stacked_over_best_one"], flush=True)
    result["fused_chunks"] = kernels.FUSED_CHUNKS
    result["environment"]["loadavg_end"] = os.getloadavg()
    result["environment"]["numba_threading_layer"] = numba.threading_layer()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, default=str) + "\n")
    print(f"wrote {args.out}")
    print(render_markdown(result))


if __name__ == "__main__":
    main()
