"""End-to-end tests of ``python -m verify``: artefacts, links, claims table, data paths, replay.

Most runs replace the claims ledger and the experiments with small fakes (monkeypatched), so that
the report's structure is tested in seconds whatever the real budgets are. One run uses the real
ledger and experiments code on a tiny profile.
"""

from __future__ import annotations

import html.parser
import json
import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import ktheory.claims
from ktheory.claims.base import Claim, Counterexample, REPLAYS, register_replay, write_counterexample
from ktheory.claims.section5 import STATEMENTS
from verify.cli import EXIT_FAILED, EXIT_INVALID, EXIT_OK, main
from verify.config import PROFILE_DIR, known_profiles, load_profile
from verify.provenance import ENV_VARS
from verify.report import MAX_LIST_ITEMS

FAKE_REPLAY = "test_verify_fake_square"

if FAKE_REPLAY not in REPLAYS:
    @register_replay(FAKE_REPLAY)
    def _replay_square(inputs):
        """Recompute the fake claim "x^2 = 2 x" on the stored input."""
        x = float(inputs["x"])
        return {"printed": 2 * x, "computed": x * x}


TINY_KERNEL = {"seed": 3, "n": 6, "d": 3, "m": 2, "kappa": 0.01,
               "problems": [{"activation": "relu", "lam": 0.5}, {"activation": "tanh", "lam": 0.0}]}


def tiny_profile(tmp_path: Path, **overrides) -> Path:
    """Write a profile with tiny budgets and return its path."""
    profile = {"name": "tiny", "description": "Tiny budgets for the tests.", "ledger_defaults": "quick",
               "ledger": {}, "kernel_regime": TINY_KERNEL, "experiments": {"seeds": [5]}}
    profile.update(overrides)
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(profile))
    return path


def tiny_cifar(data_dir: Path, rng) -> Path:
    """Write a tiny npz in the two-class CIFAR-10 layout; return its path."""
    path = data_dir / "cifar10" / "cifar10_airplane_automobile.npz"
    path.parent.mkdir(parents=True)
    np.savez(path,
             x_train=rng.integers(1, 256, size=(12, 3072), dtype=np.uint8),
             y_train=np.repeat(np.array([0, 1], dtype=np.uint8), 6),
             x_test=rng.integers(1, 256, size=(6, 3072), dtype=np.uint8),
             y_test=np.repeat(np.array([0, 1], dtype=np.uint8), 3))
    return path


FAKE_CLAIMS = {
    "fake.holds": Claim("fake.holds", "fake group A", "A true statement", "1 + 1 = 2", None),
    "fake.fails": Claim("fake.fails", "fake group A", "A false statement <b>", "x^2 = 2 x for all x", None),
    "fake.broken": Claim("fake.broken", "fake group B", "A check that raises", "n/a", None),
}


def fake_run_ledger(settings, counterexample_dir=None, progress=False, only=None):
    """Stand-in for ktheory.claims.run_ledger with one holding, one failing and one raising claim."""
    rows = []
    for claim_id in only:
        claim = FAKE_CLAIMS[claim_id]
        if claim_id == "fake.broken":
            raise RuntimeError("deliberate failure of a fake check")
        failing = claim_id == "fake.fails"
        name = None
        if failing:
            example = Counterexample(claim_id, FAKE_REPLAY, {"x": 3.0}, printed=6.0, computed=9.0,
                                     note="x = 3 gives 9 on the left and 6 on the right")
            name = write_counterexample(example, counterexample_dir).name
        rows.append({
            "id": claim.id, "group": claim.group, "title": claim.title, "statement": claim.statement,
            "verdict": "fails" if failing else "holds", "correction": None,
            "computed": "x^2 - 2 x = 3 at x = 3" if failing else "2", "tolerance": 1e-12,
            "tolerance_reason": "exact arithmetic up to rounding | pipes must survive tables",
            "reason": "", "evidence": {"max_error": 3.0 if failing else 0.0, "samples": [1, 2, 3],
                                       "nested": {"a": 1.5}},
            "counterexample": name, "counterexample_data": {"bulky": list(range(10))} if failing else None,
            "wall_time_s": 0.01,
        })
    return {"claims": rows}


def fake_figures_module(calls: list):
    """Return a stand-in for verify.figures whose run_experiments records its arguments."""
    module = types.ModuleType("verify.figures")

    def run_experiments(config, data, out_dir, progress, data_dir=None, log=None):
        calls.append({"config": config, "data": data, "out_dir": out_dir, "progress": progress,
                      "data_dir": data_dir})
        if data is None:
            return [{"id": "fig1ab", "title": "Figure 1a-b", "caption": "", "figures": [], "data_files": [],
                     "numbers": {}, "status": "skipped", "skip_reason": "no CIFAR-10 data", "wall_time_s": 0.0}]
        figure = Path(out_dir) / "figures" / "fig1ab.png"
        figure.write_bytes(b"\x89PNG\r\n\x1a\n")
        (Path(out_dir) / "figures" / "fig1ab.csv").write_text("iteration,loss\n0,1.0\n")
        return [{"id": "fig1ab", "title": "Figure 1a-b", "caption": "Loss against iteration; measured 0.5.",
                 "figures": ["figures/fig1ab.png"], "data_files": ["figures/fig1ab.csv"],
                 "numbers": {"final_loss": 0.5, "n_train": int(data.X.shape[0])}, "status": "ok",
                 "skip_reason": None, "wall_time_s": 0.1}]

    module.run_experiments = run_experiments
    return module


@pytest.fixture
def fakes(monkeypatch):
    """Replace the ledger and the experiments with the fakes above; return the experiments' call log."""
    calls: list = []
    monkeypatch.setattr(ktheory.claims, "load_all", lambda: dict(FAKE_CLAIMS))
    monkeypatch.setattr(ktheory.claims, "run_ledger", fake_run_ledger)
    monkeypatch.setitem(sys.modules, "verify.figures", fake_figures_module(calls))
    return calls


class LinkCollector(html.parser.HTMLParser):
    """Collect href and src values and element ids of an HTML page."""

    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src"):
                self.links.append(value)
            if name == "id":
                self.ids.add(value)


def markdown_claims_table(text: str) -> list[tuple[str, str]]:
    """Return (id, verdict) rows of the claims table in report.md."""
    section = text.split("## Claims\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        match = re.match(r"\| \[(.+?)\]\(#claim-[^)]*\) \| .* \| (\S+) \|$", line)
        if match:
            rows.append((match.group(1).replace("\\", ""), match.group(2)))
    return rows


def run_cli(args, capsys):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_run_writes_every_artefact(tmp_path, rng, fakes, capsys):
    data_path = tiny_cifar(tmp_path / "data", rng)
    out = tmp_path / "out"
    code, stdout, _ = run_cli(["--profile", tiny_profile(tmp_path), "--out", out,
                               "--data-dir", tmp_path / "data", "--no-progress"], capsys)

    assert code == EXIT_FAILED  # fake.broken raises, so the run reports a failure
    for name in ("config.json", "ledger.json", "report.md", "index.html", "figures/kernel_regime_poles.png",
                 "figures/kernel_regime_poles.json", "counterexamples/fake.fails.json", "figures/fig1ab.png",
                 "figures/fig1ab.csv"):
        assert (out / name).is_file(), name
    assert str(out / "index.html") in stdout
    # The fake experiments write no numbers files, so every Section 5 statement is skipped.
    assert f"1 holds, 1 fails, {len(STATEMENTS)} skipped, 1 error" in stdout

    config = json.loads((out / "config.json").read_text())
    assert config["profile"]["name"] == "tiny"
    assert config["data"]["path"] == str(data_path)
    assert fakes[0]["config"] == {"seeds": [5]}
    assert config["experiment_settings"]["seeds"] == [5]
    assert fakes[0]["data"].X.shape == (12, 3072)
    assert fakes[0]["progress"] is False


def test_html_links_point_to_files(tmp_path, rng, fakes, capsys):
    tiny_cifar(tmp_path / "data", rng)
    out = tmp_path / "out"
    run_cli(["--profile", tiny_profile(tmp_path), "--out", out, "--data-dir", tmp_path / "data",
             "--no-progress"], capsys)
    page = LinkCollector()
    page.feed((out / "index.html").read_text())

    assert page.links, "the report links nothing"
    for link in page.links:
        assert "://" not in link, f"link with a scheme: {link}"
        assert not link.startswith("/"), f"absolute link {link}"
        if link.startswith("#"):
            assert link[1:] in page.ids, f"anchor {link} has no target"
        else:
            assert (out / link).is_file(), f"link {link} points to no file"
    assert "<script" not in (out / "index.html").read_text()


def test_markdown_links_match_html(tmp_path, rng, fakes, capsys):
    tiny_cifar(tmp_path / "data", rng)
    out = tmp_path / "out"
    run_cli(["--profile", tiny_profile(tmp_path), "--out", out, "--data-dir", tmp_path / "data",
             "--no-progress"], capsys)
    page = LinkCollector()
    page.feed((out / "index.html").read_text())
    markdown = (out / "report.md").read_text()
    md_links = re.findall(r"\]\(([^)]+)\)", markdown)
    md_ids = set(re.findall(r'<a id="([^"]+)"></a>', markdown))

    assert md_links == page.links
    assert md_ids == page.ids
    md_headings = [line.lstrip("#").strip().replace("\\", "") for line in markdown.splitlines()
                   if line.startswith("#")]
    html_headings = re.findall(r"<h\d[^>]*>(.*?)</h\d>", (out / "index.html").read_text())
    import html as html_module

    assert md_headings == [html_module.unescape(h) for h in html_headings]


def test_claims_table_matches_ledger(tmp_path, rng, fakes, capsys):
    tiny_cifar(tmp_path / "data", rng)
    out = tmp_path / "out"
    run_cli(["--profile", tiny_profile(tmp_path), "--out", out, "--data-dir", tmp_path / "data",
             "--no-progress"], capsys)
    ledger = json.loads((out / "ledger.json").read_text())
    table = markdown_claims_table((out / "report.md").read_text())

    assert table == [(row["id"], row["verdict"]) for row in ledger["claims"]]
    assert [row["id"] for row in ledger["claims"]] == list(FAKE_CLAIMS) + [st.id for st in STATEMENTS]
    assert all("counterexample_data" not in row for row in ledger["claims"])
    assert ledger["claims"][1]["counterexample"] == "fake.fails.json"
    broken = ledger["claims"][2]
    assert broken["verdict"] == "error"
    assert "deliberate failure" in broken["reason"]
    for key in ("git", "packages", "blas", "cpu", "seeds", "data_files", "wall_time_s", "command"):
        assert key in ledger["provenance"], key
    assert ledger["provenance"]["seeds"]["profile.kernel_regime.seed"] == 3


def test_provenance_records_environment(tmp_path, fakes, capsys, monkeypatch):
    data_dir = tmp_path / "data from the environment"
    monkeypatch.setenv("KTHEORY_DATA_DIR", str(data_dir))
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    out = tmp_path / "out"
    run_cli(["--profile", tiny_profile(tmp_path), "--out", out, "--data-dir", tmp_path / "none",
             "--no-progress"], capsys)
    environment = json.loads((out / "ledger.json").read_text())["provenance"]["environment"]
    markdown = (out / "report.md").read_text().replace("\\_", "_")

    assert environment == {"KTHEORY_DATA_DIR": str(data_dir), "OMP_NUM_THREADS": "unset",
                           "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "unset", "NUMBA_NUM_THREADS": "unset"}
    provenance = markdown.split('<a id="provenance"></a>', 1)[1]
    for name in ENV_VARS:
        assert f"| {name} | {environment[name]} |" in provenance, name


def test_report_shows_claim_details(tmp_path, fakes, capsys):
    out = tmp_path / "out"
    run_cli(["--profile", tiny_profile(tmp_path), "--out", out, "--data-dir", tmp_path / "none",
             "--no-progress"], capsys)
    page = (out / "index.html").read_text()
    markdown = (out / "report.md").read_text()

    assert "A false statement &lt;b&gt;" in page  # titles are escaped
    assert "python -m verify replay counterexamples/fake.fails.json" in page
    assert "python -m verify replay counterexamples/fake.fails.json" in markdown
    assert "pipes must survive tables" in markdown
    assert "\\| pipes" in markdown  # a pipe inside a table cell is escaped
    assert "deliberate failure of a fake check" in page


def test_missing_data_skips_sections(tmp_path, fakes, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "out"
    code, _, _ = run_cli(["--profile", tiny_profile(tmp_path), "--out", out, "--data-dir", empty,
                          "--claims", "fake.holds", "--no-progress"], capsys)

    assert code == EXIT_OK
    assert fakes[0]["data"] is None
    expected_path = str(empty / "cifar10" / "cifar10_airplane_automobile.npz")
    for name in ("report.md", "index.html"):
        text = (out / name).read_text().replace("\\_", "_")
        assert expected_path in text, name
        assert "KTHEORY_DATA_DIR" in text, name
        assert "skipped" in text, name


def test_corrupt_data_names_file(tmp_path, fakes, capsys):
    path = tmp_path / "data" / "cifar10" / "cifar10_airplane_automobile.npz"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a zip archive")
    code, _, err = run_cli(["--profile", tiny_profile(tmp_path), "--out", tmp_path / "out",
                            "--data-dir", tmp_path / "data", "--no-progress"], capsys)

    assert code == EXIT_INVALID
    assert str(path) in err
    assert fakes == []  # nothing ran


def test_bad_profile_lists_known(tmp_path, capsys):
    code, _, err = run_cli(["--profile", "no-such-profile", "--out", tmp_path / "out"], capsys)

    assert code == EXIT_INVALID
    assert "no-such-profile" in err
    for name in known_profiles():
        assert name in err


def test_unknown_experiment_setting_rejected(tmp_path, fakes, capsys):
    code, _, err = run_cli(["--profile", tiny_profile(tmp_path, experiments={"no_such_key": 1}),
                            "--out", tmp_path / "out", "--no-progress"], capsys)

    assert code == EXIT_INVALID
    assert "no_such_key" in err
    assert fakes == []


def test_unknown_claim_id_rejected(tmp_path, fakes, capsys):
    code, _, err = run_cli(["--profile", tiny_profile(tmp_path), "--out", tmp_path / "out",
                            "--claims", "fake.holds,nope", "--no-progress"], capsys)

    assert code == EXIT_INVALID
    assert "nope" in err
    assert "fake.fails" in err


@pytest.mark.parametrize("spec, words", [
    ("", "is empty"),
    (" , ", "is empty"),
    ("s5-teacher-best", "Section 5 statements"),
])
def test_claims_option_explains_rejection(tmp_path, fakes, capsys, spec, words):
    code, _, err = run_cli(["--profile", tiny_profile(tmp_path), "--out", tmp_path / "out",
                            "--claims", spec, "--no-progress"], capsys)

    assert code == EXIT_INVALID
    assert words in err


def test_replay_prints_both_sides(tmp_path, capsys):
    example = Counterexample("fake.fails", FAKE_REPLAY, {"x": 3.0}, printed=6.0, computed=9.0)
    path = write_counterexample(example, tmp_path)
    code, out, _ = run_cli(["replay", path], capsys)

    assert code == EXIT_OK
    stored = json.loads(out.split("stored:\n", 1)[1].split("recomputed:\n", 1)[0])
    recomputed = json.loads(out.split("recomputed:\n", 1)[1])
    assert stored == {"printed": 6.0, "computed": 9.0}
    assert recomputed == {"printed": 6.0, "computed": 9.0}


def test_replay_prints_inputs_shortened(tmp_path, capsys):
    matrix = np.arange(900.0).reshape(30, 30) / 7
    inputs = {"x": 3.0, "activation": "relu", "pair": [1.5, 2.5], "matrix": matrix.tolist(),
              "weights": list(range(40)), "options": {"lam": 0.25}}
    example = Counterexample("fake.fails", FAKE_REPLAY, inputs, printed=6.0, computed=9.0)
    path = write_counterexample(example, tmp_path)
    code, out, _ = run_cli(["replay", path], capsys)
    block = out.split("\ninputs", 1)[1].split("\nstored:\n", 1)[0]
    lines = dict(line.strip().split(": ", 1) for line in block.splitlines()[1:])

    assert code == EXIT_OK
    assert lines["x"] == "3"
    assert lines["activation"] == "relu"
    assert lines["pair"] == "[1.5, 2.5]"
    assert lines["options.lam"] == "0.25"
    assert lines["weights"] == "[0, 1, 2, 3, 4, 5, ... (40 values)]"
    first = ", ".join(f"{v:.6g}" for v in matrix.ravel()[:MAX_LIST_ITEMS])
    assert lines["matrix"] == f"shape (30, 30), first values [{first}, ...]"
    # The stored and recomputed sides still follow as JSON.
    assert json.loads(out.split("stored:\n", 1)[1].split("recomputed:\n", 1)[0]) == {"printed": 6.0, "computed": 9.0}


@pytest.mark.parametrize("content", [None, "{not json", '{"claim_id": "x"}'])
def test_replay_bad_file_exits_2(tmp_path, capsys, content):
    path = tmp_path / "example.json"
    if content is not None:
        path.write_text(content)
    code, _, err = run_cli(["replay", path], capsys)

    assert code == EXIT_INVALID
    assert str(path) in err
    assert "counterexamples/" in err


def test_help_documents_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    text = capsys.readouterr().out

    assert exit_info.value.code == 0
    for option in ("--profile", "--out", "--data-dir", "--claims", "--no-progress", "KTHEORY_DATA_DIR", "replay"):
        assert option in text, option


def test_shipped_profiles_load():
    assert {"quick", "paper"} <= set(known_profiles())
    for name in ("quick", "paper"):
        profile, path = load_profile(name)
        assert path == PROFILE_DIR / f"{name}.json"
        assert profile["ledger_defaults"] == name
        assert isinstance(profile["experiments"], dict)
        assert profile["kernel_regime"]["problems"]


def test_report_deterministic_before_provenance(tmp_path, fakes, capsys):
    texts = []
    figures = []
    for run in ("a", "b"):
        out = tmp_path / "out"  # the same folder, so that the command line matches too
        run_cli(["--profile", tiny_profile(tmp_path), "--out", out, "--data-dir", tmp_path / "none",
                 "--no-progress"], capsys)
        texts.append((out / "report.md").read_text().split('<a id="provenance"></a>')[0])
        figures.append((out / "figures" / "kernel_regime_poles.png").read_bytes())

    assert texts[0] == texts[1]
    assert figures[0] == figures[1]


def test_real_tiny_run(tmp_path, capsys):
    """The real ledger (one claim) and the real experiments module, without CIFAR-10 data."""
    registered = ktheory.claims.load_all()
    if not registered:
        pytest.skip("no claim is registered in ktheory.claims yet")
    claim_id = next(iter(registered))
    out = tmp_path / "out"
    code, stdout, _ = run_cli(["--profile", tiny_profile(tmp_path, experiments={}), "--out", out,
                               "--data-dir", tmp_path / "none", "--claims", claim_id, "--no-progress"], capsys)

    assert code == EXIT_OK, stdout
    ledger = json.loads((out / "ledger.json").read_text())
    assert [row["id"] for row in ledger["claims"]] == [claim_id] + [st.id for st in STATEMENTS]
    assert ledger["claims"][0]["verdict"] in ktheory.claims.VERDICTS
    # Without data no experiment ran, so every Section 5 statement is skipped with the reason.
    assert {row["verdict"] for row in ledger["claims"][1:]} == {"skipped"}
    assert all(str(tmp_path / "none") in row["reason"] for row in ledger["claims"][1:])
    markdown = (out / "report.md").read_text()
    assert markdown_claims_table(markdown) == [(row["id"], row["verdict"]) for row in ledger["claims"]]
    skip_lines = [line.replace("\\_", "_") for line in markdown.splitlines() if line.startswith("Skipped: ")]
    assert skip_lines, "the experiments reported no skipped section without data"
    for line in skip_lines:
        assert str(tmp_path / "none") in line  # the reason names the --data-dir searched
    assert "experiment sections: 0 ok" in stdout


TINY_EXPERIMENTS = {
    "n_train": None, "n_test": None, "iterations": 20, "record_every": 5, "imperfect_iteration": 5,
    "teacher_width": 6, "student_width": 3, "seeds": [0, 1], "landmarks": 6, "step": 0.05,
    "spectral_rows": 12, "overlap_top_k": 2, "error_rows": 12, "psd_rows": 12, "dpi": 30,
    "bandwidth_pairs": 60,
}


def test_real_run_on_tiny_cifar(tmp_path, rng, capsys):
    """The real ledger (one claim) and experiments on a tiny npz: every artefact, links, verdicts."""
    tiny_cifar(tmp_path / "data", rng)
    registered = ktheory.claims.load_all()
    claim_id = next(iter(registered))
    out = tmp_path / "out"
    code, stdout, _ = run_cli(["--profile", tiny_profile(tmp_path, experiments=TINY_EXPERIMENTS), "--out", out,
                               "--data-dir", tmp_path / "data", "--claims", claim_id, "--no-progress"], capsys)

    assert code == EXIT_OK, stdout
    assert "experiment sections: 5 ok" in stdout
    figures = ["fig1ab", "fig1cd", "fig2", "fig3", "fig4"]
    for name in ["index.html", "report.md", "ledger.json", "config.json", "figures/experiments_config.json"] + \
            [f"figures/{f}.png" for f in figures]:
        assert (out / name).is_file(), name
    page = LinkCollector()
    page.feed((out / "index.html").read_text())
    for link in page.links:
        if not link.startswith("#"):
            assert (out / link).is_file(), f"link {link} points to no file"

    ledger = json.loads((out / "ledger.json").read_text())
    assert markdown_claims_table((out / "report.md").read_text()) == \
        [(row["id"], row["verdict"]) for row in ledger["claims"]]
    statements = [row for row in ledger["claims"] if row["id"].startswith("s5-")]
    assert [row["id"] for row in statements] == [st.id for st in STATEMENTS]
    # The experiments ran, so every statement is decided from the numbers (none skipped).
    assert {row["verdict"] for row in statements} <= {"holds", "fails", "inconclusive"}
    for row in statements:
        if row["counterexample"]:
            assert (out / "counterexamples" / row["counterexample"]).is_file()


def test_provenance_records_load_and_seed_lists(tmp_path, fakes, capsys):
    out = tmp_path / "out"
    run_cli(["--profile", tiny_profile(tmp_path), "--out", out, "--data-dir", tmp_path / "none",
             "--claims", "fake.holds", "--no-progress"], capsys)
    provenance = json.loads((out / "ledger.json").read_text())["provenance"]

    assert set(provenance["load_average"]) == {"start", "end"}
    assert len(provenance["load_average"]["end"]) == 3
    assert provenance["seeds"]["profile.experiments.seeds"] == [5]
    assert "load average (1, 5, 15 min)" in (out / "report.md").read_text()


def test_missing_data_log_names_the_fix(tmp_path, fakes, capsys):
    code, _, err = run_cli(["--profile", tiny_profile(tmp_path), "--out", tmp_path / "out",
                            "--data-dir", tmp_path / "none", "--claims", "fake.holds"], capsys)

    assert code == EXIT_OK
    assert "--data-dir" in err
    assert "KTHEORY_DATA_DIR" in err
