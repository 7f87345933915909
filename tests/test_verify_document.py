"""Tests of the report's building blocks: Markdown/HTML rendering, provenance, kernel-regime summary."""

from __future__ import annotations

import html.parser

import numpy as np
import pytest

from ktheory.ntk import gram_blocks
from ktheory.spectral import block_matrix
from verify.document import (Code, CodeBlock, Document, Heading, Image, Link, Paragraph, Table, anchor_id,
                             render_html, render_markdown)
from verify.kernel_regime import summarize_problem
from verify.provenance import collect_seeds, git_state, sha256_file
from verify.report import format_value


class TextCollector(html.parser.HTMLParser):
    """Collect the visible text and the tags of an HTML page."""

    def __init__(self):
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def hostile_document() -> Document:
    doc = Document("Title <with> & markup")
    doc.add(Heading(2, "Section | with pipe", anchor_id("claim", "thm3.1")))
    doc.add(Paragraph(["a <script>alert(1)</script> b ", Code("x `y` z"), " ", Link("file <1>", "figures/a b.png")]))
    doc.add(Table(["h|1", "h2"], [["cell | pipe", ["*not bold*", Code("c|d")]]]))
    doc.add(Image("figures/p.png", 'alt "quoted"'))
    doc.add(CodeBlock("line 1\n```\nline 3 <tag>"))
    return doc


def test_html_escapes_all_text():
    page = render_html(hostile_document())
    parser = TextCollector()
    parser.feed(page)

    assert "script" not in parser.tags
    assert "<script>alert(1)</script>" in "".join(parser.text)  # shown as text, not run
    assert "&lt;tag&gt;" in page
    assert 'alt="alt &quot;quoted&quot;"' in page
    assert 'id="claim-thm3-1"' in page


def test_html_has_no_external_resources():
    page = render_html(hostile_document())

    assert "http://" not in page
    assert "https://" not in page
    assert "<link" not in page
    assert "<style>" in page


def test_markdown_escapes_table_cells():
    text = render_markdown(hostile_document())
    table_lines = [line for line in text.splitlines() if line.startswith("| ")]

    assert table_lines[0] == "| h\\|1 | h2 |"
    # Each row keeps exactly its two cells: every literal pipe is escaped.
    for line in table_lines:
        assert len([c for c in line.replace("\\|", "").split("|")]) == 4, line
    assert "\\*not bold\\*" in text
    assert "``x `y` z``" in text  # a fence longer than any backtick run inside


def test_markdown_code_block_fence_is_longer():
    text = render_markdown(hostile_document())

    assert "````\nline 1\n```\nline 3 <tag>\n````" in text


def test_anchor_id_is_html_safe():
    assert anchor_id("claim", "lemma6.1") == "claim-lemma6-1"
    assert anchor_id("fig", "Fig 1a/b") == "fig-fig-1a-b"


@pytest.mark.parametrize("value, text", [
    (np.float64(0.125), "0.125"),
    (np.array(7), "7"),
    ([1.5, 2.5], "[1.5, 2.5]"),
    ([[1, 2], [3, 4]], "[[1, 2], [3, 4]]"),  # 4 values: shown in full
    (np.arange(8), "[0, 1, 2, 3, 4, 5, ... (8 values)]"),
    (np.arange(24.0).reshape(2, 3, 4), "shape (2, 3, 4), first values [0, 1, 2, 3, 4, 5, ...]"),
    ([[0.5] * 4, [0.25] * 4], "shape (2, 4), first values [0.5, 0.5, 0.5, 0.5, 0.25, 0.25, ...]"),
    ([[1, 2, 3], [4]], "[[1, 2, 3], [4]]"),  # ragged: item by item
    ([np.arange(3), np.arange(9)], "[[0, 1, 2], [0, 1, 2, 3, 4, 5, ... (9 values)]]"),
    ([{"a": np.arange(2)}], "[{a: [0, 1]}]"),
    ({"s": "relu", "n": None}, "{s: relu, n: None}"),
])
def test_format_value_shortens_arrays(value, text):
    assert format_value(value) == text


def test_git_state_outside_repository(tmp_path):
    assert git_state(tmp_path) == {"commit": "unknown", "dirty": "unknown"}


def test_git_state_without_git(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no git executable on the PATH

    assert git_state(tmp_path) == {"commit": "unknown", "dirty": "unknown"}


def test_collect_seeds_finds_nested():
    config = {"profile": {"seed": 1, "experiments": {"seeds": [0, 1], "data_seed": 5},
                          "problems": [{"seed": 9}]}}

    assert collect_seeds(config) == {"profile.seed": 1, "profile.experiments.seeds": [0, 1],
                                     "profile.experiments.data_seed": 5, "profile.problems[0].seed": 9}


def test_collect_seeds_skips_lists_of_other_values():
    config = {"seeds": [0, 1], "seed_notes": ["a", "b"], "nested": {"seeds": [{"seed": 2}]}}

    assert collect_seeds(config) == {"seeds": [0, 1], "nested.seeds[0].seed": 2}


def test_sha256_file_matches_hashlib(tmp_path):
    import hashlib

    path = tmp_path / "blob"
    payload = bytes(range(256)) * 5000  # larger than one read chunk
    path.write_bytes(payload)

    assert sha256_file(path, chunk=4096) == hashlib.sha256(payload).hexdigest()


@pytest.mark.parametrize("activation, lam", [("relu", 0.3), ("tanh", 0.01), ("tanh", 0.0)])
def test_kernel_summary_cross_checked(activation, lam):
    n, d, m = 7, 4, 3
    result = summarize_problem(np.random.default_rng(11), n, d, m, 0.5, activation, lam)
    s = result["summary"]

    # Rebuild the same problem and compute the poles independently from the dense Hbar.
    rng = np.random.default_rng(11)
    from ktheory.data.synthetic import sphere_inputs
    from ktheory.model import init_params

    X = sphere_inputs(rng, n, d)
    a, W = init_params(rng, m, d, kappa=0.5)
    H = gram_blocks(X, W, activation)
    eigenvalues = np.linalg.eigvals(block_matrix(H, a, lam))
    reference = np.sort(eigenvalues.real)
    scale = reference[-1]

    assert s["pole_count"] == m * n
    assert s["zero_poles"] + np.count_nonzero(result["poles"] > 0) == m * n
    # Hbar is similar to a symmetric matrix of norm `scale`, so backward-stable eigensolvers agree
    # to a small multiple of (m n) eps scale. The factor 100 leaves room for the nonnormal similarity.
    tolerance = 100 * m * n * np.finfo(float).eps * scale
    assert abs(s["p_max"] - scale) <= tolerance
    nonzero_reference = reference[reference > s["zero_tolerance"]]
    assert abs(s["p_min"] - nonzero_reference.min()) <= tolerance
    assert s["route_a_vs_c_rel"] <= 100 * m * n * np.finfo(float).eps
    assert s["p_max_over_upper"] <= 1 + 1e-12  # ||Hbar|| <= max ||H_k|| (a_bar + lambda) is a proven bound
