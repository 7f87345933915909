"""End-to-end test of verify.figures.run_experiments on a tiny synthetic two-class data set."""

import json
import re

import numpy as np
import pytest

from ktheory.data import Dataset
from verify.document import render_markdown
from verify.figures import SECTIONS, run_experiments
from verify.report import MAX_LIST_ITEMS, build_document

# Tiny but complete: every figure, every run kind, two seeds (so spreads are computed).
TINY = {
    "iterations": 20, "record_every": 5, "imperfect_iteration": 5, "teacher_width": 10, "student_width": 4,
    "seeds": [0, 1], "landmarks": 10, "step": 0.05, "spectral_rows": 20, "overlap_top_k": 3,
    "error_rows": 40, "psd_rows": 40, "dpi": 40, "bandwidth_pairs": 500,
}


def _fake_data():
    rng = np.random.default_rng(5)

    def split(n):
        X = np.abs(rng.standard_normal((n, 12)))  # non-negative, like pixels
        X /= np.linalg.norm(X, axis=1, keepdims=True)
        y = np.where(X[:, 0] > X[:, 1], 1.0, -1.0)
        y[:2] = [1.0, -1.0]  # both labels present whatever the draw
        return X, y

    X, y = split(40)
    Xt, yt = split(16)
    return Dataset(X, y, Xt, yt, {"source": "synthetic test data"})


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    data = _fake_data()
    outs = []
    for k in range(2):
        out = tmp_path_factory.mktemp(f"run{k}")
        outs.append((out, run_experiments(dict(TINY), data, out, progress=False)))
    return outs


def test_every_section_written(two_runs):
    out, sections = two_runs[0]
    assert [s["id"] for s in sections] == list(SECTIONS)
    for s in sections:
        assert s["status"] == "ok", s["id"]
        assert s["figures"] and s["data_files"], s["id"]
        for rel in s["figures"] + s["data_files"]:
            assert (out / rel).is_file(), rel
        assert s["caption"].startswith("Paper: "), s["id"]
        assert "Measured" in s["caption"], s["id"]
        assert s["wall_time_s"] >= 0
    config = json.loads((out / "figures" / "experiments_config.json").read_text())
    assert config["settings"]["iterations"] == 20
    assert config["settings"]["seeds"] == [0, 1]


def test_figures_and_curves_byte_identical(two_runs):
    (out1, sec1), (out2, _) = two_runs
    for s in sec1:
        for rel in s["figures"] + [f for f in s["data_files"] if f.endswith(".csv")]:
            assert (out1 / rel).read_bytes() == (out2 / rel).read_bytes(), rel


def test_png_has_no_software_or_date(two_runs):
    out, sections = two_runs[0]
    blob = (out / sections[0]["figures"][0]).read_bytes()
    assert b"matplotlib" not in blob.lower()
    assert b"Creation Time" not in blob


def test_numbers_consistent_with_curves(two_runs):
    out, sections = two_runs[0]
    numbers = json.loads((out / "figures" / "fig1ab_numbers.json").read_text())
    rows = (out / "figures" / "fig1ab_curves.csv").read_text().splitlines()
    last = [r.split(",") for r in rows if r.startswith("0,student,20,")]
    assert len(last) == 1
    assert float(last[0][4]) == numbers["student"]["final_train_mse"][0]


def test_lambda_inf_from_teacher_stays_put(two_runs):
    # lambda -> inf initialised at the teacher subset has zero loss, so the output must not move
    out, _ = two_runs[0]
    numbers = json.loads((out / "figures" / "fig1cd_numbers.json").read_text())
    got = np.array(numbers["lam_inf"]["final_train_mse"])
    want = np.array(numbers["lam_inf"]["predicted_final_train_mse"])
    # GD's output F c and the prediction Phi c sum the same m terms in different orders: ~m eps
    assert np.allclose(got, want, rtol=1e-12, atol=0)


def _numbers_table(sections, section_id) -> dict:
    """Render the report's Markdown for ``sections`` and return the numbers table of one section."""
    results = {"profile": {"name": "tiny"}, "kernel_regime": {"status": "error", "error": "not run"},
               "ledger": {"claims": []}, "data": {"found": False}, "experiments": {"sections": sections},
               "provenance": {}}
    markdown = re.sub(r"\\(.)", r"\1", render_markdown(build_document(results)))  # drop Markdown escapes
    part = markdown.split(f'<a id="fig-{section_id}"></a>', 1)[1].split("<a id=", 1)[0]
    rows = [line.split(" | ", 1) for line in part.splitlines() if line.startswith("| ")]
    return {key[2:]: value[:-2] for key, value in rows}


def _shortened(values) -> str:
    shown = ", ".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in values[:MAX_LIST_ITEMS])
    return f"[{shown}, ... ({len(values)} values)]"


def test_report_shortens_long_arrays(two_runs):
    out, sections = two_runs[0]
    fig3 = json.loads((out / "figures" / "fig3_numbers.json").read_text())
    fig4 = json.loads((out / "figures" / "fig4_overlaps.json").read_text())
    alignment_cell = _numbers_table(sections, "fig3")["alignment"]
    overlap_cells = _numbers_table(sections, "fig4")

    for per_seed in fig3["alignment"]:
        indices = per_seed["landmark_indices"]
        assert len(indices) == TINY["landmarks"]  # the JSON file keeps the full array
        assert f"landmark_indices: {_shortened(indices)}" in alignment_cell
    long_overlaps = 0
    for key, per_seed in fig4["overlaps"].items():
        cell = overlap_cells[f"overlaps.{key}"]
        for values in per_seed:
            if len(values) > MAX_LIST_ITEMS:
                long_overlaps += 1
                assert _shortened(values) in cell, key
    assert long_overlaps, "no overlap array is longer than MAX_LIST_ITEMS; the test checks nothing"


def test_skipped_without_data(tmp_path):
    sections = run_experiments(dict(TINY), None, tmp_path, progress=False)
    assert [s["id"] for s in sections] == list(SECTIONS)
    for s in sections:
        assert s["status"] == "skipped"
        assert "cifar10_airplane_automobile.npz" in s["skip_reason"]
        assert s["figures"] == []
    assert not (tmp_path / "figures").exists()


def test_statements_judged_from_written_numbers(two_runs):
    """Every Section 5 statement gets a computed verdict from the files of a real (tiny) run."""
    from ktheory.claims.section5 import STATEMENTS, judge_statements, load_numbers

    out, _ = two_runs[0]
    settings = json.loads((out / "figures" / "experiments_config.json").read_text())["settings"]
    numbers = load_numbers(out / "figures")
    assert sorted(numbers) == sorted({st.figure for st in STATEMENTS})
    rows = judge_statements(numbers, settings, out / "counterexamples")
    assert {row["verdict"] for row in rows} <= {"holds", "fails", "inconclusive"}
    first = next(row for row in rows if row["id"] == "s5-teacher-best")
    evidence = first["evidence"]["teacher vs student: final_train_mse"]
    assert evidence["claimed better (per seed)"] == numbers["fig1ab"]["teacher"]["final_train_mse"]
    for row in rows:
        assert (row["counterexample"] is not None) == (row["verdict"] == "fails"), row["id"]
    # lambda -> inf from the teacher has zero loss and zero gradient, so its run must not move.
    unchanged = next(row for row in rows if row["id"] == "s5-lambda-inf-unchanged")
    assert unchanged["verdict"] == "holds", unchanged["computed"]


def test_train_mse_change_matches_curves(two_runs):
    """train_mse_change in the numbers file against the curve in the CSV, for every run of fig1cd."""
    out, _ = two_runs[0]
    numbers = json.loads((out / "figures" / "fig1cd_numbers.json").read_text())
    rows = [r.split(",") for r in (out / "figures" / "fig1cd_curves.csv").read_text().splitlines()[1:]]
    for name in ("lam_zero", "student", "lam_inf", "teacher"):
        curve = np.array([float(r[4]) for r in rows if r[0] == "0" and r[1] == name])
        expected = np.max(np.abs(curve - curve[0])) / curve[0]
        # The CSV contains repr() of the same doubles, so the two agree to rounding of one division.
        assert numbers[name]["train_mse_change"][0] == pytest.approx(expected, rel=1e-12, abs=1e-300)


def test_spread_prints_rounding_noise_once():
    from verify.figures import _spread

    # p_min on the same rows differs between seeds only by rounding (about 1e-14 relative).
    assert _spread([1.1282e-05, 1.1282e-05 * (1 + 1e-14), 1.1282e-05]) == "1.13e-05 (the same on every seed)"
    assert _spread([0.25, 0.24, 0.26]) == "0.25 +/- 0.01"
