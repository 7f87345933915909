"""The report's kernel-regime summary: poles of Hbar for seeded synthetic problems, by three routes.

For each problem of the profile's ``kernel_regime`` section, inputs are drawn on the unit sphere,
the network is initialised as in Panahi et al. (2022) (w_k ~ N(0, kappa^2 I), a_k uniform on
{-1, +1}), and the m n poles p_j of Hbar (the eigenvalues of the kernel-regime dynamics) are
computed by the symmetric-definite eigensolve (route a), the secular condition "-1 is an
eigenvalue of T(-p)" (route b) and the plain nonsymmetric eigensolver (route c). The summary lists
the pole count, the zero poles, p_min (smallest nonzero pole), p_max, Theorem 3.3's lower bound
lambda sigma_0 (sigma_0 = smallest nonzero eigenvalue over all H_k), the upper bound
max_k ||H_k|| (a_bar + lambda), the routes' agreement and route (c)'s largest imaginary part.

Known limitations
-----------------
- Route (b) costs m n^3 flops per evaluation and is skipped above ``SECULAR_MAX_N`` samples.
- Dense routes (a) and (c) hold (m n)^2 numbers; the profile keeps m n in the hundreds.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ktheory.data.synthetic import sphere_inputs
from ktheory.model import init_params
from ktheory.ntk import gram_blocks
from ktheory.spectral import assumption_gaps, eigen_decomposition, nonsymmetric_poles, pole_bounds, secular_poles

__all__ = ["SECTION_ID", "FIGURE_NAME", "run_kernel_regime", "summarize_problem"]

SECTION_ID = "kernel-regime"
FIGURE_NAME = "figures/kernel_regime_poles.png"
DATA_NAME = "figures/kernel_regime_poles.json"
SECULAR_MAX_N = 200  # above this, route (b)'s m n^3 flops per evaluation dominate the whole section


def _relative_difference(p, q) -> float:
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    scale = max(float(np.abs(p).max(initial=0.0)), 1e-300)
    return float(np.abs(p - q).max(initial=0.0) / scale)


def summarize_problem(rng: np.random.Generator, n: int, d: int, m: int, kappa: float,
                      activation: str, lam: float) -> dict:
    """Draw one synthetic problem and return its pole summary (JSON-ready numbers and the poles)."""
    X = sphere_inputs(rng, n, d)
    a, W = init_params(rng, m, d, kappa=kappa)
    H = gram_blocks(X, W, activation)

    basis = eigen_decomposition(H, a, lam, vectors=False)
    all_poles = basis.poles
    nonzero = all_poles[basis.zero_count:]  # ascending, zeros first
    bounds = pole_bounds(H, a, lam)
    route_c, max_imag = nonsymmetric_poles(H, a, lam)
    gaps = assumption_gaps(H, a, lam, all_poles)

    summary = {
        "activation": activation, "lam": lam, "n": n, "d": d, "m": m, "kappa": kappa,
        "pole_count": int(all_poles.size),
        "zero_poles": int(basis.zero_count),
        "zero_tolerance": float(basis.zero_tolerance),
        "inactive_rows": int(basis.inactive_rows),
        "p_min": float(nonzero.min()) if nonzero.size else float("nan"),
        "p_max": float(all_poles.max(initial=0.0)),
        "sigma0": float(bounds["sigma0"]),
        "thm33_lower_bound": float(bounds["lower"]),
        "upper_bound": float(bounds["upper"]),
        "a_bar": float(bounds["a_bar"]),
        "route_a_vs_c_rel": _relative_difference(all_poles, route_c),
        "route_c_max_imag": max_imag,
        "assumption_gaps": {key: float(value) for key, value in gaps.items()},
    }
    summary["p_min_over_bound"] = (summary["p_min"] / summary["thm33_lower_bound"]
                                   if summary["thm33_lower_bound"] > 0 else float("nan"))
    summary["p_max_over_upper"] = summary["p_max"] / summary["upper_bound"] if summary["upper_bound"] > 0 else float("nan")

    if n <= SECULAR_MAX_N:
        secular = secular_poles(H, a, lam)
        found = int(secular.zero_count + secular.multiplicity.sum())
        summary["route_b"] = {
            "found": found,
            "zero_poles": int(secular.zero_count),
            "missing": int(secular.missing),
            "evaluations": int(secular.evaluations),
            # The lists are comparable entry by entry only when route (b) accounted for every pole.
            "vs_a_rel": _relative_difference(all_poles, secular.poles) if found == all_poles.size else None,
        }
    else:
        summary["route_b"] = None
    return {"summary": summary, "poles": all_poles, "route_c": route_c}


def _plot(results: list[dict], path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 3.4), squeeze=False)
    for ax, result in zip(axes[0], results):
        s = result["summary"]
        nonzero = result["poles"][s["zero_poles"]:]
        ax.semilogy(np.arange(1, nonzero.size + 1), nonzero, ".", ms=4, label="poles p_j (route a)")
        if s["thm33_lower_bound"] > 0:
            ax.axhline(s["thm33_lower_bound"], color="C3", ls="--", lw=1, label="lambda sigma_0 (Thm 3.3)")
        ax.axhline(s["upper_bound"], color="C2", ls=":", lw=1, label="max||H_k|| (a_bar + lambda)")
        ax.set_title(f"{s['activation']}, lambda = {s['lam']:g}: {s['zero_poles']} zero poles", fontsize=9)
        ax.set_xlabel("index of nonzero pole")
        ax.set_ylabel("p_j")
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    # No Software or date entries, so the PNG is byte-identical for identical inputs.
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


def run_kernel_regime(config: dict, out_dir: Path) -> dict:
    """Run the summary for every problem in ``config`` (the profile's kernel_regime section).

    Writes ``figures/kernel_regime_poles.png`` and ``figures/kernel_regime_poles.json`` under
    ``out_dir`` and returns {"id", "title", "problems": [summaries], "figures", "data_files",
    "wall_time_s"}.
    """
    start = time.perf_counter()
    out_dir = Path(out_dir)
    results = []
    for index, problem in enumerate(config["problems"]):
        # One Generator per problem, seeded from (profile seed, problem index): problems are independent.
        rng = np.random.default_rng([int(config["seed"]), index])
        results.append(summarize_problem(rng, int(config["n"]), int(config["d"]), int(config["m"]),
                                         float(config["kappa"]), str(problem["activation"]), float(problem["lam"])))
    _plot(results, out_dir / FIGURE_NAME)
    payload = [{**r["summary"], "poles_route_a": r["poles"].tolist(), "poles_route_c": r["route_c"].tolist()}
               for r in results]
    (out_dir / DATA_NAME).write_text(json.dumps(_jsonable(payload), indent=1, sort_keys=True) + "\n")
    return {
        "id": SECTION_ID,
        "title": "Kernel-regime summary of synthetic problems",
        "problems": [r["summary"] for r in results],
        "figures": [FIGURE_NAME],
        "data_files": [DATA_NAME],
        "wall_time_s": time.perf_counter() - start,
    }


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    return value
