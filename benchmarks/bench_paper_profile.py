"""Measure the paper profile's gradient-descent steps and one-off computations at full size.

Writes ``benchmarks/results/paper_profile.json``. The settings are those of
``verify/profiles/paper.json`` (all 10,000 training and 2,000 test images of CIFAR-10 airplane vs
automobile unless ``--n-train``/``--n-test`` say otherwise), and every figure times the library's
own functions as ``python -m verify --profile paper`` calls them:

- GD steps: ``gradient_descent_many`` on the teacher (100 units), the six stacked students
  (6 x 20 units), the teacher on Nystrom features (100 units) and the student on them (20 units).
  After a one-step warm-up call, a call with 0 iterations and one with ``--iterations`` are
  timed, and the step time is their difference divided by the iterations, so validation, hashing
  and the records at r = 0 and at the end drop out. The records every ``record_every`` steps of a
  real run cost extra.
- One-off computations: ``predictions.unit_sigma0`` and ``predictions.smallest_pole`` per kind of
  run (lambda = 0: dense eigvalsh of the n x n kernel; 0 < lambda < inf: the symmetric eigensolve
  on ``spectral_rows`` rows), the steps of ``scenarios.embedding_runs`` (median distance, alignf,
  PSD checks, Nystrom map and features, the kernel numbers) and the Figure 4 steps
  (``ntk.expected_kernel`` on all rows and ``overlap.top_eigenvectors``).

Each thread count runs in its own child process with OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and
NUMBA_NUM_THREADS set before numpy loads. The JSON keeps per stage the seconds and the peak resident
memory of the child after that stage (``ru_maxrss``, so it only grows). The extrapolation at the
end adds the stages up as one ``--profile paper`` run performs them (see ``extrapolate``).

Usage: ``nice python benchmarks/bench_paper_profile.py [--threads 2,1] [--iterations 200]
[--unit-sample 20]``; ``--append`` adds the passes to an existing JSON, so that the thread counts
can run at different times. A full pass takes 10 to 20 minutes. ``--quick`` uses 1000 training
and 400 test rows and 20 iterations, for a smoke run. Run it alone: two-thread BLAS slows down
many times when another process keeps a core busy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
REPO = ROOT.parent
PROFILE = REPO / "verify" / "profiles" / "paper.json"
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")


def peak_rss_mb() -> float:
    """Return the peak resident memory of this process in MB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Stages:
    """Ordered stage timings with the peak memory after each stage."""

    def __init__(self):
        self.rows = {}

    def run(self, name, fn):
        tick = time.perf_counter()
        out = fn()
        seconds = time.perf_counter() - tick
        self.rows[name] = {"s": seconds, "peak_rss_mb": peak_rss_mb()}
        print(f"  {name}: {seconds:.2f} s, peak RSS {self.rows[name]['peak_rss_mb']:.0f} MB", flush=True)
        return out


def gd_step_time(stages, name, X, X_test, models, settings, iterations):
    """Time gradient_descent_many for 0 and ``iterations`` steps; return the results of the long call."""
    from ktheory.integrate.gd import gradient_descent_many

    def call(count):
        return gradient_descent_many(X, models, count, X_test=X_test, record_every=int(settings["record_every"]),
                                     record_features=False, form=settings["gd_form"], progress=False,
                                     seed_note=name)

    stages.run(f"gd/{name}/warm-up", lambda: call(1))  # loads the compiled kernels
    stages.run(f"gd/{name}/0", lambda: call(0))
    results = stages.run(f"gd/{name}/{iterations}", lambda: call(iterations))
    short = stages.rows[f"gd/{name}/0"]["s"]
    long = stages.rows[f"gd/{name}/{iterations}"]["s"]
    stages.rows[f"gd/{name}"] = {
        "per_step_s": (long - short) / iterations, "iterations": iterations, "call_0_s": short, "call_s": long,
        "form": results[0].form, "units": int(sum(m.W0.shape[0] for m in models)), "d": int(X.shape[1]),
        "n": int(X.shape[0]), "status": results[0].status,
    }
    print(f"  gd/{name}: {1e3 * stages.rows[f'gd/{name}']['per_step_s']:.1f} ms per step", flush=True)
    return results


def worker(args) -> dict:
    """Run every stage once in this process (thread counts come from the environment)."""
    import numpy as np

    from ktheory.data.cifar import find_cifar10, load_cifar10
    from ktheory.experiments import alignment, overlap, predictions
    from ktheory.experiments.scenarios import resolve_settings, subsample
    from ktheory.integrate.gd import ModelSpec
    from ktheory.integrate.setups import select_units
    from ktheory.model import hidden_features, init_params
    from ktheory.ntk import expected_kernel, relu_expected_kernel

    profile = json.loads(PROFILE.read_text())
    config = dict(profile["experiments"])
    config.update(n_train=args.n_train, n_test=args.n_test)
    s = resolve_settings(config)
    act, lam, seed = s["activation"], float(s["lam"]), int(s["seeds"][0])
    mbar, m = int(s["teacher_width"]), int(s["student_width"])
    rows_p = int(s["spectral_rows"])
    st = Stages()

    status = find_cifar10(args.data_dir)
    if not status.found:
        raise SystemExit(status.describe())
    data = st.run("load_data", lambda: load_cifar10(path=status.path))
    problem = st.run("subsample", lambda: subsample(data, s["n_train"], s["n_test"], int(s["data_seed"])))
    X, Xt, y = problem.X, problem.X_test, problem.y
    del data

    # Teacher: unit eigenvalues and the lambda = 0 pole (dense eigvalsh of H, n x n), then GD.
    a_t, W_t0 = init_params(np.random.default_rng([seed, 2]), mbar, X.shape[1], s["kappa"])
    sample = min(args.unit_sample, mbar)
    sig_t = st.run("unit_sigma0/teacher", lambda: predictions.unit_sigma0(X, W_t0[:sample], act))
    st.rows["unit_sigma0/teacher"].update(units_timed=sample, units=mbar)
    st.run("smallest_pole/lam0", lambda: predictions.smallest_pole(X, W_t0, a_t, 0.0, act, max_rows=rows_p,
                                                                   sigma0=sig_t))
    teacher = ModelSpec(y=y, a=a_t, W0=W_t0, lam=0.0, activation=act, step=float(s["step"]), y_test=problem.y_test,
                        name="teacher")
    res = gd_step_time(st, "teacher", X, Xt, [teacher], s, args.iterations)
    W_t = res[0].W

    # Students as run_core builds them, with the short teacher run standing in for the trained one
    # (the step cost does not depend on the weights' values).
    rng_s = np.random.default_rng([seed, 3])
    subset = select_units(mbar, m, rng_s)
    a_s = np.sqrt(mbar / m) * a_t[subset]
    a_free, W_rand = init_params(rng_s, m, X.shape[1], s["kappa"])
    Phi = hidden_features(X, W_t[subset], act)
    sig_s = st.run("unit_sigma0/student", lambda: predictions.unit_sigma0(X, W_rand, act))
    st.run("smallest_pole/lam_finite", lambda: predictions.smallest_pole(X, W_rand, a_s, lam, act, max_rows=rows_p,
                                                                         sigma0=sig_s))
    common = dict(y=y, activation=act, step=float(s["step"]), y_test=problem.y_test)
    students = [
        ModelSpec(a=a_free, W0=W_rand, lam=0.0, name="no_teacher", **common),
        ModelSpec(a=a_s, W0=W_rand, Phi=Phi, lam=lam, name="student", **common),
        ModelSpec(a=a_s, W0=W_rand, lam=0.0, name="lam_zero", **common),
        ModelSpec(a=a_s, W0=W_t[subset], Phi=Phi, lam=np.inf, name="lam_inf", **common),
        ModelSpec(a=a_s, W0=W_t[subset], Phi=Phi, lam=lam, name="perfect", **common),
        ModelSpec(a=a_s, W0=W_t0[subset], Phi=Phi, lam=lam, name="imperfect", **common),
    ]
    gd_step_time(st, "students", X, Xt, students, s, args.iterations)

    # Figure 3: the steps of embedding_runs, then GD on the Nystrom features.
    rng = np.random.default_rng([seed, 4])
    med = st.run("embed/median_distance", lambda: alignment.median_distance(X, rng, pairs=int(s["bandwidth_pairs"])))
    bw = alignment.default_bandwidths(med, int(s["kernels"]))
    fit = st.run("embed/alignf", lambda: alignment.alignf(X, y, bw))
    st.run("embed/psd_checks", lambda: [alignment.psd_check(X, b, rng, psd_rows=int(s["psd_rows"])) for b in bw])
    landmarks = min(int(s["landmarks"]), X.shape[0])
    emb = st.run("embed/nystrom_map", lambda: alignment.nystrom_embedding(X, fit.mu, bw, landmarks, rng))
    Z, Zt = st.run("embed/transform", lambda: (emb.transform(X), emb.transform(Xt)))
    rows_e = min(int(s["error_rows"]), X.shape[0])

    def numbers():
        K = sum(w * alignment.gaussian_kernel(X[:rows_e], X[:rows_e], b) for w, b in zip(fit.mu, bw))
        Zr = emb.transform(X[:rows_e], normalize=False)
        yy = np.outer(y[:rows_e], y[:rows_e])
        return (np.linalg.norm(K - Zr @ Zr.T) / np.linalg.norm(K),
                alignment.centered_alignment(relu_expected_kernel(X[:rows_e]), yy),
                alignment.centered_alignment(relu_expected_kernel(Z[:rows_e]), yy))

    st.run("embed/numbers", numbers)
    rng_t = np.random.default_rng([seed, 5])
    a_e, W_e0 = init_params(rng_t, mbar, Z.shape[1], s["kappa"])
    sig_e = st.run("unit_sigma0/teacher_emb", lambda: predictions.unit_sigma0(Z, W_e0[:sample], act))
    st.rows["unit_sigma0/teacher_emb"].update(units_timed=sample, units=mbar)
    st.run("smallest_pole/lam0_emb", lambda: predictions.smallest_pole(Z, W_e0, a_e, 0.0, act, max_rows=rows_p,
                                                                       sigma0=sig_e))
    teacher_emb = ModelSpec(y=y, a=a_e, W0=W_e0, lam=0.0, activation=act, step=float(s["step"]),
                            y_test=problem.y_test, name="teacher_emb")
    res = gd_step_time(st, "teacher_emb", Z, Zt, [teacher_emb], s, args.iterations)
    sub_e = select_units(mbar, m, rng_t)
    W_se0 = s["kappa"] * rng_t.standard_normal((m, Z.shape[1]))
    a_se = np.sqrt(mbar / m) * a_e[sub_e]
    Phi_e = hidden_features(Z, res[0].W[sub_e], act)
    sig_se = st.run("unit_sigma0/student_emb", lambda: predictions.unit_sigma0(Z, W_se0, act))
    st.run("smallest_pole/lam_finite_emb", lambda: predictions.smallest_pole(Z, W_se0, a_se, lam, act,
                                                                             max_rows=rows_p, sigma0=sig_se))
    student_emb = ModelSpec(y=y, a=a_se, W0=W_se0, Phi=Phi_e, lam=lam, activation=act, step=float(s["step"]),
                            y_test=problem.y_test, name="student_emb")
    gd_step_time(st, "student_emb", Z, Zt, [student_emb], s, args.iterations)
    del Z, Zt

    # Figure 4: H^infinity on the overlap rows and its top eigenvectors.
    rows_o = X.shape[0] if s["overlap_rows"] is None else min(int(s["overlap_rows"]), X.shape[0])
    K = st.run("fig4/expected_kernel", lambda: expected_kernel(X[:rows_o], act, kappa=s["kappa"]).kernel)
    st.run("fig4/top_eigenvectors", lambda: overlap.top_eigenvectors(K, int(s["overlap_top_k"])))
    del K

    import numba

    return {"stages": st.rows, "settings": s, "n_train": int(X.shape[0]), "n_test": int(Xt.shape[0]),
            "d": int(X.shape[1]), "nystrom_rank": int(emb.rank), "numba_threads": numba.get_num_threads(),
            "thread_env": {k: os.environ.get(k) for k in THREAD_VARS}, "peak_rss_mb": peak_rss_mb()}


def extrapolate(run: dict) -> dict:
    """Return the estimated wall time of one ``--profile paper`` experiment run from one worker's stages.

    Per seed, as ``run_core`` and ``embedding_runs`` call them: the teacher group (unit_sigma0 over
    100 units, one lambda = 0 pole, its GD); the student group (unit_sigma0 for three distinct W0
    of 20 units, two lambda = 0 poles for no_teacher and lam_zero, three finite-lambda poles,
    the stacked GD); the embedding one-offs; the embedded teacher (as the teacher, on the
    features) and student. Once per report: loading the data and Figure 4. Student unit
    eigenvalues of trained weights are taken to cost as much as those of random ones, and the
    teachers' unit eigenvalues, timed on ``--unit-sample`` units, are scaled to all units.
    """
    t = {k: v["s"] * v.get("units", 1) / v.get("units_timed", 1) for k, v in run["stages"].items() if "s" in v}
    step = {k.split("/")[1]: v["per_step_s"] for k, v in run["stages"].items() if "per_step_s" in v}
    s = run["settings"]
    it = int(s["iterations"])
    seeds = len(s["seeds"])
    one_offs = {
        "teacher": t["unit_sigma0/teacher"] + t["smallest_pole/lam0"],
        "students": 3 * t["unit_sigma0/student"] + 2 * t["smallest_pole/lam0"] + 3 * t["smallest_pole/lam_finite"],
        "embedding": sum(v for k, v in t.items() if k.startswith("embed/")),
        "teacher_emb": t["unit_sigma0/teacher_emb"] + t["smallest_pole/lam0_emb"],
        "student_emb": t["unit_sigma0/student_emb"] + t["smallest_pole/lam_finite_emb"],
    }
    gd = {name: it * step[name] for name in ("teacher", "students", "teacher_emb", "student_emb")}
    per_seed = sum(one_offs.values()) + sum(gd.values())
    once = t["load_data"] + t["subsample"] + t["fig4/expected_kernel"] + t["fig4/top_eigenvectors"]
    total = seeds * per_seed + once
    return {"iterations": it, "seeds": seeds, "gd_per_seed_s": gd, "one_offs_per_seed_s": one_offs,
            "per_seed_s": per_seed, "once_s": once, "experiments_s": total, "experiments_h": total / 3600.0,
            "gd_share": seeds * sum(gd.values()) / total}


def environment() -> dict:
    import numpy as np

    info = {"python": platform.python_version(), "machine": platform.machine(), "cpu_count": os.cpu_count(),
            "numpy": np.__version__, "loadavg_start": os.getloadavg()}
    try:
        info["numpy_blas"] = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except Exception as exc:  # show_config's layout is not a stable API
        info["numpy_blas"] = f"unavailable ({exc})"
    try:
        with open("/proc/cpuinfo") as handle:
            names = [line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")]
        info["cpu_model"] = names[0] if names else None
    except OSError:
        info["cpu_model"] = None
    return info


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="2,1", help="comma-separated BLAS/numba thread counts, one child each")
    parser.add_argument("--iterations", type=int, default=200, help="GD steps per timed call")
    parser.add_argument("--n-train", type=int, default=None, help="training rows (default: all, as the profile)")
    parser.add_argument("--n-test", type=int, default=None, help="test rows (default: all, as the profile)")
    parser.add_argument("--unit-sample", type=int, default=20,
                        help="teacher units whose H_k eigenvalues are timed; the estimate scales to all 100")
    parser.add_argument("--quick", action="store_true", help="1000 training rows, 400 test rows, 20 iterations")
    parser.add_argument("--data-dir", default=None, help="CIFAR-10 folder (default: as python -m verify)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "paper_profile.json", help="output JSON path")
    parser.add_argument("--append", action="store_true",
                        help="keep the runs of other thread counts already in --out and add these")
    parser.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.n_train, args.n_test, args.iterations = 1000, 400, 20
    if args.worker is not None:
        args.worker.write_text(json.dumps(worker(args), default=str))
        return

    result = {"environment": environment(), "command": " ".join(sys.argv), "profile_file": str(PROFILE.relative_to(REPO)),
              "iterations_timed": args.iterations, "runs": {}}
    if args.append and args.out.is_file():
        earlier = json.loads(args.out.read_text())
        result["runs"] = earlier["runs"]
        result["earlier_commands"] = earlier.get("earlier_commands", []) + [earlier["command"]]
    for threads in [int(x) for x in args.threads.split(",")]:
        env = dict(os.environ, **{k: str(threads) for k in THREAD_VARS})
        with tempfile.TemporaryDirectory() as tmp:
            part = Path(tmp) / "part.json"
            cmd = [sys.executable, __file__, "--worker", str(part), "--iterations", str(args.iterations),
                   "--unit-sample", str(args.unit_sample)]
            for flag, value in (("--n-train", args.n_train), ("--n-test", args.n_test), ("--data-dir", args.data_dir)):
                if value is not None:
                    cmd += [flag, str(value)]
            print(f"{threads} thread(s):", flush=True)
            load_start = os.getloadavg()
            tick = time.perf_counter()
            subprocess.run(cmd, env=env, check=True)
            run = json.loads(part.read_text())
        run["wall_s"] = time.perf_counter() - tick
        run["loadavg_start"] = load_start
        run["loadavg_end"] = os.getloadavg()
        run["extrapolation"] = extrapolate(run)
        result["runs"][str(threads)] = run
        print(f"  extrapolated experiments: {run['extrapolation']['experiments_h']:.1f} h", flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1, default=str) + "\n")
    runs = result["runs"]
    if "1" in runs and "2" in runs:
        ratios = {}
        for name, row in runs["1"]["stages"].items():
            other = runs["2"]["stages"].get(name, {})
            key = "per_step_s" if "per_step_s" in row else "s"
            if key in other and other[key] > 0:
                ratios[name] = row[key] / other[key]
        result["one_over_two_threads"] = ratios
    result["environment"]["loadavg_end"] = os.getloadavg()
    args.out.write_text(json.dumps(result, indent=1, default=str) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
