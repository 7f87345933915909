"""Figures of the knowledge-transfer experiments on CIFAR-10 and the numbers behind them.

:func:`run_experiments` runs the scenarios of :mod:`ktheory.experiments` on the loaded data set,
draws one PNG per figure into ``out_dir/figures``, writes the numbers behind each figure as CSV
(curves) and JSON (summaries) next to it, writes the resolved configuration to
``out_dir/figures/experiments_config.json``, and returns one section dict per figure for the
report. Figures are byte-identical for identical inputs: the Agg backend, a fixed dpi and PNG
metadata without the software version (PNG files from matplotlib carry no date).

Losses in every figure are mean squared errors (1/n) sum_i (y_i - f(x_i))^2, the paper's loss
without the regulariser, divided by n.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
import numpy as np  # noqa: E402

from ktheory.experiments import embedding_runs, figure4_overlaps  # noqa: E402
from ktheory.experiments.scenarios import resolve_settings, run_core, subsample  # noqa: E402

__all__ = ["run_experiments", "SECTIONS"]

SECTIONS = {
    "fig1ab": "Figure 1a-b: student without teacher, student with teacher, teacher",
    "fig1cd": "Figure 1c-d: lambda -> 0, lambda = 0.01, lambda -> infinity",
    "fig2": "Figure 2: perfect and imperfect teacher",
    "fig3": "Figure 3: kernel embedding by centered alignment and Nystrom",
    "fig4": "Figure 4: overlap of hidden outputs with the top eigenvectors of H^infinity",
}

SAME_ON_EVERY_SEED = 1e-9
"""Relative spread over seeds below which a number is printed once: rounding noise (about 1e-14
relative) is not a seed-to-seed spread."""

PNG_METADATA = {"Software": None}
"""PNG text chunks: dropping "Software" removes the matplotlib version; PNGs carry no date."""

LABELS = {
    "teacher": "teacher ({mbar} units, lambda = 0)",
    "no_teacher": "student without teacher (lambda = 0)",
    "student": "student with teacher (lambda = {lam})",
    "lam_zero": "student, lambda -> 0",
    "lam_inf": "student, lambda -> inf (init. at teacher)",
    "perfect": "perfect teacher (init. + features final)",
    "imperfect": "imperfect teacher (checkpoint)",
    "random_init": "random init., final teacher features",
    "teacher_emb": "teacher on Nystrom features",
    "student_emb": "student on Nystrom features",
}
COLORS = {"teacher": "C0", "no_teacher": "C1", "student": "C2", "lam_zero": "C4", "lam_inf": "C3",
          "perfect": "C5", "imperfect": "C6", "random_init": "C2", "teacher_emb": "C7", "student_emb": "C8"}


def _skip(sid: str, reason: str) -> dict:
    return {"id": sid, "title": SECTIONS[sid], "caption": "", "figures": [], "data_files": [], "numbers": {},
            "status": "skipped", "skip_reason": reason, "wall_time_s": 0.0}


def _missing_data_reason(data_dir=None) -> str:
    from ktheory.data.cifar import find_cifar10

    return (f"No CIFAR-10 data set was passed to the experiments. {find_cifar10(data_dir).describe()}. "
            "Provide the data by putting cifar10_airplane_automobile.npz into <data dir>/cifar10/ "
            "and passing --data-dir <data dir> or setting KTHEORY_DATA_DIR.")


def _fmt(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "n/a"
    return f"{x:.{digits}g}"


def _spread(values) -> str:
    vals = np.array([v for v in values if v is not None], dtype=float)
    if vals.size == 0:
        return "n/a"
    if vals.size == 1:
        return _fmt(float(vals[0]))
    spread = float(vals.std(ddof=1))
    if spread <= SAME_ON_EVERY_SEED * abs(float(vals.mean())):
        return f"{_fmt(float(vals.mean()))} (the same on every seed)"
    return f"{_fmt(float(vals.mean()))} +/- {_fmt(spread)}"


def _json_default(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _write_json(path: Path, obj):
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _write_curves(path: Path, runs_by_seed: list[dict], names: list[str]):
    """Write one CSV row per (seed, run, recorded iteration)."""
    with open(path, "w", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(["seed", "run", "iteration", "time", "train_mse", "test_mse", "residual"])
        for seed, runs in runs_by_seed:
            for name in names:
                r = runs[name]
                for row in zip(r.iteration, r.time, r.train_mse, r.test_mse, r.residual):
                    out.writerow([seed, name, int(row[0])] + [repr(float(v)) for v in row[1:]])


def _band(ax, runs_list, name, key, label):
    """Plot the seed mean of one curve with its min-max band."""
    it = runs_list[0][name].iteration
    vals = np.array([r[name].__dict__[key] for r in runs_list])
    line, = ax.plot(it, vals.mean(axis=0), color=COLORS[name], label=label, lw=1.4)
    if vals.shape[0] > 1:
        ax.fill_between(it, vals.min(axis=0), vals.max(axis=0), color=line.get_color(), alpha=0.2, lw=0)


def _style_loss_axes(axes):
    """Put log scales, labels and grids on the training and test panels; legend on the first."""
    for ax, what in zip(axes[:2], ("training", "test")):
        ax.set_yscale("log")
        ax.set_xlabel("iteration")
        ax.set_ylabel(f"{what} MSE")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)


def _loss_figure(path: Path, runs_list: list[dict], names: list[str], labels: dict, theory_run: str,
                 title: str, dpi: int):
    """Draw train MSE, test MSE and the normalised residual with the theory's envelopes."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for name in names:
        _band(axes[0], runs_list, name, "train_mse", labels[name])
        _band(axes[1], runs_list, name, "test_mse", labels[name])
    pred = [r[theory_run].prediction.get("final_train_mse") for r in runs_list]
    pred = [p for p in pred if p is not None and p > 0]
    lowest = min(float(np.min(r[name].train_mse)) for r in runs_list for name in names)
    if pred:
        value = float(np.mean(pred))
        label = f"eq. (5) final value {_fmt(value)}, " + labels[theory_run].split(" (")[0]
        if value < lowest / 1e3:
            # far below every curve: name it in the legend but keep the curves readable
            axes[0].plot([], [], color=COLORS[theory_run], ls="--", lw=1, label=label + " (below the axis)")
        else:
            axes[0].axhline(value, color=COLORS[theory_run], ls="--", lw=1, label=label)
    _style_loss_axes(axes)

    ax = axes[2]
    for name in names:
        vals = np.array([r[name].residual / max(r[name].residual[0], 1e-300) for r in runs_list])
        ax.plot(runs_list[0][name].iteration, vals.mean(axis=0), color=COLORS[name], lw=1.4, label=labels[name])
    base = runs_list[0][theory_run]
    rows = base.prediction.get("rows")
    p_min_label = "exp(-p_min t)" if rows in (None, base.f_inf.size) else f"exp(-p_min t), first {rows} rows"
    envelopes = [("p_min", "k", ":", p_min_label), ("bound", "0.5", "-.", "exp(-lambda sigma_0 t), Thm 3.3"),
                 ("upper", "0.3", "--", "exp(-p_upper t)")]
    for key, color, style, label in envelopes:
        rate = float(np.mean([r[theory_run].prediction.get(key, np.nan) for r in runs_list]))
        if np.isfinite(rate) and rate > 0:
            ax.plot(base.iteration, np.exp(-rate * base.time), color=color, ls=style, lw=1,
                    label=f"{label}, rate {_fmt(rate)}")
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("||f(t) - f_inf|| / ||f(0) - f_inf||")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi, metadata=PNG_METADATA)
    plt.close(fig)


def _run_numbers(runs_list, names, s) -> dict:
    """Return per-run summaries over seeds: lists of values and a mean +/- std string."""
    out = {}
    for name in names:
        per_seed = [r[name].summary(s["fit_fraction"], s["loss_level"]) for r in runs_list]
        keys = per_seed[0].keys()
        out[name] = {k: [p[k] for p in per_seed] for k in keys}
    return out


def _describe_runs(numbers, names, labels, s) -> str:
    parts = []
    for name in names:
        v = numbers[name]
        reach = [x for x in v["iterations_to_level"]]
        reach_txt = ", ".join("never" if x is None else str(x) for x in reach)
        parts.append(
            f"{labels[name]}: final training MSE {_spread(v['final_train_mse'])}, final test MSE "
            f"{_spread(v['final_test_mse'])}, iterations to training MSE <= {s['loss_level']}: {reach_txt}"
        )
    ranking = []
    for key, what in (("final_train_mse", "training"), ("final_test_mse", "test")):
        means = {name: float(np.mean(numbers[name][key])) for name in names}
        order = sorted(names, key=lambda name: means[name])
        ranking.append(f"by final {what} MSE (seed mean): " + " < ".join(
            f"{labels[name].split(' (')[0]} ({_fmt(means[name], 4)})" for name in order))
    return "; ".join(parts) + ". Order " + "; order ".join(ranking) + "."


def _theory_text(numbers, name, label, runs_list) -> str:
    v = numbers[name]
    pred = runs_list[0][name].prediction
    t_end = float(runs_list[0][name].time[-1])
    n_rows = runs_list[0][name].f_inf.size
    rows_note = f" ({pred['p_min_rows']})" if "p_min_rows" in pred else ""
    upper = (f", and on all {n_rows} rows the Rayleigh-quotient upper bound min_k sigma_k (c_k^2 + lambda) = "
             f"{_spread(v['p_min_upper'])} (p_min on fewer rows can exceed this all-row bound)") \
        if any(x is not None for x in v["p_min_upper"]) else ""
    bound = [x for x in v["lambda_sigma0"] if x is not None and np.isfinite(x)]
    decay = f"; exp(-lambda sigma_0 t) at the last iteration (t = {_fmt(t_end)}) is {_fmt(float(np.exp(-np.mean(bound) * t_end)), 6)}" \
        if bound else ""
    return (f"Theory for the {label}: eq. (5) predicts a final training MSE of {_spread(v['predicted_final_train_mse'])}; "
            f"the rate fitted to ||f(t) - f_inf|| over the last part of the run is {_spread(v['fitted_rate'])} "
            f"against p_min = {_spread(v['p_min'])}{rows_note}; on all {n_rows} rows Theorem 3.3's lower bound "
            f"lambda sigma_0 = {_spread(v['lambda_sigma0'])}{upper} (gradient-flow time t = step x iteration){decay}.")


def _setting_text(s, problem) -> str:
    return (f"Settings: n = {problem.X.shape[0]} training and {problem.X_test.shape[0]} test images, "
            f"ReLU, kappa = {s['kappa']}, step {s['step']} on the loss with halves (the paper's step "
            f"{s['step'] / 2:g} on its loss without halves), {s['iterations']} iterations, teacher "
            f"{s['teacher_width']} units, student {s['student_width']} units with a_k = sqrt(mbar/m) a_k(teacher), "
            f"lambda = {s['lam']}, seeds {list(s['seeds'])}; curves are seed means with min-max bands.")


def _section(sid, caption, figures, data_files, numbers, start) -> dict:
    return {"id": sid, "title": SECTIONS[sid], "caption": caption, "figures": figures, "data_files": data_files,
            "numbers": numbers, "status": "ok", "skip_reason": None, "wall_time_s": time.perf_counter() - start}


def _loss_section(sid, fig_dir, runs_list, names, theory_run, claim, s, problem, dpi, start, labels):
    png, csv_name, json_name = f"{sid}.png", f"{sid}_curves.csv", f"{sid}_numbers.json"
    _loss_figure(fig_dir / png, runs_list, names, labels, theory_run, SECTIONS[sid], dpi)
    _write_curves(fig_dir / csv_name, [(r["_seed"], r) for r in runs_list], names)
    numbers = _run_numbers(runs_list, names, s)
    _write_json(fig_dir / json_name, numbers)
    caption = (f"Paper: {claim} Measured: {_describe_runs(numbers, names, labels, s)} "
               f"{_theory_text(numbers, theory_run, labels[theory_run], runs_list)} {_setting_text(s, problem)}")
    return _section(sid, caption, [f"figures/{png}"], [f"figures/{csv_name}", f"figures/{json_name}"],
                    numbers, start)


def run_experiments(config: dict, data, out_dir: Path, progress: bool, data_dir=None, log=None) -> list[dict]:
    """Run the CIFAR-10 experiments of the profile's "experiments" section and draw their figures.

    Returns one section dict per figure (see the module docstring); with ``data`` None every
    section is skipped with the reason, which names the folders searched from ``data_dir``
    (None: the loader's default search). ``log``, when given, receives one line per finished
    stage (a seed's training, a figure), for logs without progress bars.
    """
    log = log or (lambda message: None)
    out_dir = Path(out_dir)
    if data is None:
        reason = _missing_data_reason(data_dir)
        return [_skip(sid, reason) for sid in SECTIONS]
    s = resolve_settings(config)
    fig_dir = out_dir / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    dpi = int(s["dpi"])
    ckpt = out_dir / "checkpoints" if s["checkpoint"] else None

    start = time.perf_counter()
    problem = subsample(data, s["n_train"], s["n_test"], int(s["data_seed"]))
    _write_json(fig_dir / "experiments_config.json",
                {"settings": s, "data": {k: v for k, v in problem.info.items() if not isinstance(v, np.ndarray)}})
    labels = {k: v.format(lam=s["lam"], mbar=s["teacher_width"]) for k, v in LABELS.items()}

    cores = []
    for seed in s["seeds"]:
        tick = time.perf_counter()
        core = run_core(problem, s, int(seed), checkpoint_dir=ckpt, progress=progress)
        log(f"experiments: seed {seed}, teacher and six students trained ({time.perf_counter() - tick:.0f} s)")
        runs = dict(core.runs)
        runs["random_init"] = runs["student"]
        runs["_seed"] = int(seed)
        cores.append((core, runs))
    runs_list = [r for _, r in cores]

    sections = []
    sections.append(_loss_section(
        "fig1ab", fig_dir, runs_list, ["no_teacher", "student", "teacher"], "student",
        "the teacher has the lowest loss; the student with the teacher ends with lower training and test "
        "loss than the student without it and converges significantly faster (Theorems 3.1 and 3.2).",
        s, problem, dpi, start, labels))
    t = time.perf_counter()
    sections.append(_loss_section(
        "fig1cd", fig_dir, runs_list, ["lam_zero", "student", "lam_inf", "teacher"], "student",
        "the student with lambda = 0.01 beats lambda -> 0 and lambda -> infinity in convergence rate and "
        "final loss; with lambda -> infinity and initialisation at the teacher the loss is 0 at the start, so "
        "the weights do not move and the output stays the teacher subset's prediction sum_k a_k phi_k / sqrt(m). "
        "Here lambda -> 0 is run as lambda = 0 with the same head and initialisation as the lambda = 0.01 student.",
        s, problem, dpi, t, labels))
    t = time.perf_counter()
    sections.append(_loss_section(
        "fig2", fig_dir, runs_list, ["perfect", "imperfect", "random_init"], "perfect",
        "the perfect teacher (student initialised at the final teacher weights, final teacher features) gives the "
        "lowest training and test loss and the fastest convergence; the imperfect teacher (checkpoint at iteration "
        f"{s['imperfect_iteration']}) and the randomly initialised student with the final features do worse. "
        "The random-init. run is the same run as the student with teacher of Figure 1a-b.",
        s, problem, dpi, t, labels))

    log("experiments: Figures 1a-b, 1c-d and 2 written")
    t = time.perf_counter()
    sections.append(_figure3(fig_dir, problem, s, runs_list, ckpt, progress, dpi, t, labels, log))
    log(f"experiments: Figure 3 written ({time.perf_counter() - t:.0f} s)")
    t = time.perf_counter()
    sections.append(_figure4(fig_dir, problem, s, cores, dpi, t))
    log(f"experiments: Figure 4 written ({time.perf_counter() - t:.0f} s)")
    return sections


def _figure3(fig_dir, problem, s, runs_list, ckpt, progress, dpi, start, labels, log) -> dict:
    emb_list = []
    for (seed, runs) in [(r["_seed"], r) for r in runs_list]:
        tick = time.perf_counter()
        emb = embedding_runs(problem, s, seed, checkpoint_dir=ckpt, progress=progress)
        log(f"experiments: seed {seed}, kernel embedding and its teacher and student ({time.perf_counter() - tick:.0f} s)")
        runs.update(emb.runs)
        emb_list.append(emb)
    names = ["teacher", "student", "teacher_emb", "student_emb"]
    png = "fig3.png"
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for name in names:
        style = "--" if name.endswith("_emb") else "-"
        for ax, key in zip(axes[:2], ("train_mse", "test_mse")):
            it = runs_list[0][name].iteration
            vals = np.array([r[name].__dict__[key] for r in runs_list])
            ax.plot(it, vals.mean(axis=0), color=COLORS[name], ls=style, lw=1.4, label=labels[name])
    _style_loss_axes(axes)
    a0 = emb_list[0].alignment
    x = np.arange(a0.bandwidths.size)
    axes[2].bar(x - 0.2, a0.base_alignment, width=0.4, label="centered alignment of K_k with yy^T")
    axes[2].bar(x + 0.2, a0.mu, width=0.4, label="alignf weight mu_k")
    axes[2].axhline(a0.alignment, color="k", ls="--", lw=1, label=f"alignment of K_mu = {_fmt(a0.alignment)}")
    axes[2].set_xticks(x, [f"{b:.3g}" for b in a0.bandwidths], fontsize=7)
    axes[2].set_xlabel("Gaussian bandwidth s_k")
    axes[2].legend(fontsize=7)
    fig.suptitle(SECTIONS["fig3"], fontsize=10)
    fig.tight_layout()
    fig.savefig(fig_dir / png, dpi=dpi, metadata=PNG_METADATA)
    plt.close(fig)

    csv_name, json_name = "fig3_curves.csv", "fig3_numbers.json"
    _write_curves(fig_dir / csv_name, [(r["_seed"], r) for r in runs_list], names)
    numbers = _run_numbers(runs_list, names, s)
    numbers["alignment"] = [e.numbers for e in emb_list]
    _write_json(fig_dir / json_name, numbers)
    al = emb_list[0].numbers
    caption = (
        "Paper: feeding Nystrom features of a kernel learned by alignf (seven Gaussian kernels) into the networks "
        "lowers the training loss and the test loss of both teacher and student. "
        f"Measured: {_describe_runs(numbers, names, labels, s)} "
        f"alignf (minimise v^T M v - 2 v^T a over v >= 0 by NNLS, mu = v / ||v||_2, no rescaling of the base "
        f"kernels, which all have unit diagonal) on the training set gives mu = {np.round(al['mu'], 3).tolist()} for "
        f"bandwidths {np.round(al['bandwidths'], 3).tolist()} (median pairwise distance times 2^-3 ... 2^3); the "
        f"centered alignment of K_mu with yy^T is {_fmt(al['alignment'])} against {_fmt(max(al['base_alignment']))} for "
        f"the best single kernel; all kernels PSD: {al['all_psd']} (smallest eigenvalue {_fmt(al['min_psd_eigenvalue'])}, "
        f"on {al['psd_rows']} rows). Nystrom: {al['landmarks']} seeded landmarks, rank {al['rank']}, feature rows "
        f"re-normalised to unit norm; relative Frobenius error of the Nystrom kernel on {al['error_rows']} "
        f"training rows {_fmt(al['nystrom_relative_error'])}. Centered alignment of the expected ReLU kernel "
        f"H^infinity with yy^T: {_fmt(al['h_inf_alignment_raw'])} on raw inputs, {_fmt(al['h_inf_alignment_embedded'])} "
        f"on the embedding (first {al['error_rows']} training rows). {_setting_text(s, problem)}"
    )
    return _section("fig3", caption, [f"figures/{png}"], [f"figures/{csv_name}", f"figures/{json_name}"],
                    numbers, start)


def _figure4(fig_dir, problem, s, cores, dpi, start) -> dict:
    result = figure4_overlaps(problem, s, [c for c, _ in cores])
    png = "fig4.png"
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    groups = [("teacher_perfect", "teacher_imperfect"), ("student_perfect", "student_imperfect")]
    names = {"teacher_perfect": "perfect teacher (final)", "teacher_imperfect": "imperfect teacher (checkpoint)",
             "student_perfect": "student of the perfect teacher", "student_imperfect": "student of the imperfect teacher"}
    all_vals = np.concatenate([np.concatenate(v) for v in result.overlaps.values() if len(v)])
    hi = float(all_vals.max()) if all_vals.size else 1.0
    bins = np.linspace(0.0, hi * 1.05 if hi > 0 else 1.0, int(s["overlap_bins"]) + 1)
    for ax, pair in zip(axes, groups):
        for key, color in zip(pair, ("C0", "C3")):
            vals = np.concatenate(result.overlaps[key])
            ax.hist(vals, bins=bins, alpha=0.55, color=color, label=f"{names[key]} (mean {_fmt(float(vals.mean()))})")
        ax.set_xlabel(f"mean |cosine| with the top {result.top_k} eigenvectors of H^infinity")
        ax.set_ylabel("hidden units")
        ax.legend(fontsize=7)
    axes[0].set_title("(a) teachers", fontsize=9)
    axes[1].set_title("(b) students", fontsize=9)
    fig.suptitle(SECTIONS["fig4"], fontsize=10)
    fig.tight_layout()
    fig.savefig(fig_dir / png, dpi=dpi, metadata=PNG_METADATA)
    plt.close(fig)

    json_name = "fig4_overlaps.json"
    numbers = {"top_k": result.top_k, "eigenvalues": result.eigenvalues, "rows": result.rows,
               "dead_columns": result.dead_columns,
               "overlaps": {k: [np.asarray(x) for x in v] for k, v in result.overlaps.items()},
               "mean": {k: [float(np.mean(x)) for x in v] for k, v in result.overlaps.items()}}
    _write_json(fig_dir / json_name, numbers)
    m = numbers["mean"]
    caption = (
        "Paper: the overlap between a network's normalised hidden-output columns and the top eigenvectors of "
        "H^infinity is larger for the perfect (fully trained) teacher than for the imperfect one (4a), and the "
        "students inherit the difference (4b). "
        f"Overlap of a column phi_k: the mean over the top K = {result.top_k} eigenvectors u_j of H^infinity (ReLU "
        f"closed form, {result.rows} training rows) of |<phi_k / ||phi_k||, u_j>| (absolute values, because "
        "eigenvector signs are arbitrary); zero columns (units inactive on every row) are left out: "
        f"{result.dead_columns} over all networks and seeds. Measured mean overlap per seed: perfect teacher {_spread(m['teacher_perfect'])}, "
        f"imperfect teacher {_spread(m['teacher_imperfect'])}, student of the perfect teacher "
        f"{_spread(m['student_perfect'])}, student of the imperfect teacher {_spread(m['student_imperfect'])}. "
        f"Imperfect teacher: checkpoint at iteration {s['imperfect_iteration']} of {s['iterations']}."
    )
    return _section("fig4", caption, [f"figures/{png}"], [f"figures/{json_name}"], numbers, start)
