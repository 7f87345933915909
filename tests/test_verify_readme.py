"""Tests of ``python -m verify readme``: the README example is regenerated from a report folder."""

import json

import pytest

from ktheory.errors import InvalidArgumentError
from verify.cli import main
from verify.readme import END_MARKER, START_MARKER, update_readme


def _fake_report(tmp_path, verdicts):
    report = tmp_path / "report"
    (report / "figures").mkdir(parents=True)
    rows = [{"id": f"c{i}", "title": f"claim {i} | piped", "verdict": v} for i, v in enumerate(verdicts)]
    (report / "ledger.json").write_text(json.dumps({"claims": rows}))
    (report / "config.json").write_text(json.dumps({"profile": {"name": "quick"}}))
    (report / "figures" / "fig1ab.png").write_bytes(b"\x89PNG fake")
    return report


def _readme(tmp_path, body="old text"):
    path = tmp_path / "README.md"
    path.write_text(f"# title\n\n{START_MARKER}\n{body}\n{END_MARKER}\n\ntail\n")
    return path


def test_readme_table_matches_ledger(tmp_path):
    report = _fake_report(tmp_path, ["holds", "fails"])
    readme = _readme(tmp_path)
    update_readme(report, readme)
    text = readme.read_text()
    assert "old text" not in text
    assert "| `c0` | claim 0 \\| piped | **holds** |" in text
    assert "| `c1` | claim 1 \\| piped | **fails** |" in text
    assert text.endswith("\n\ntail\n")
    assert "from a `quick` run" in text


def test_readme_copies_figure(tmp_path):
    report = _fake_report(tmp_path, ["holds"])
    readme = _readme(tmp_path)
    update_readme(report, readme)
    copied = tmp_path / "docs" / "images" / "fig1ab.png"
    assert copied.read_bytes() == b"\x89PNG fake"
    assert "](docs/images/fig1ab.png)" in readme.read_text()


def test_readme_rerun_is_stable(tmp_path):
    report = _fake_report(tmp_path, ["holds-corrected"])
    readme = _readme(tmp_path)
    update_readme(report, readme)
    first = readme.read_text()
    update_readme(report, readme)
    assert readme.read_text() == first


def test_readme_missing_markers(tmp_path):
    report = _fake_report(tmp_path, ["holds"])
    readme = tmp_path / "README.md"
    readme.write_text("# no markers\n")
    with pytest.raises(InvalidArgumentError, match="lacks the markers"):
        update_readme(report, readme)


def test_readme_command_missing_ledger(tmp_path, capsys):
    readme = _readme(tmp_path)
    status = main(["readme", str(tmp_path / "nowhere"), "--readme", str(readme)])
    assert status == 2
    assert "ledger.json not found" in capsys.readouterr().out
