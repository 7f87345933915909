"""Build the verification report from the run's results and write report.md and index.html.

Both files are rendered from one :class:`~verify.document.Document`, so they carry the same
content. Layout, top to bottom:

1. the claims table (id, title, verdict, link to the claim's section) and the figures table;
2. the kernel-regime summary of the synthetic problems;
3. one section per group of claims, one subsection per claim (statement, computed, verdict,
   correction, tolerance and its reason, evidence numbers, counterexample and replay command);
4. one section per experiment figure (images, caption, numbers, data files, skip reason);
5. provenance (git, software, environment variables, BLAS, CPU, seeds, data hashes, wall times,
   command line).

Everything above the provenance part is computed from seeded inputs. So between two runs of the
same profile on the same machine only the provenance part changes (wall times, git state).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np

from .document import (Anchor, BulletList, Code, CodeBlock, Document, Heading, Image, Link, Paragraph,
                       Table, anchor_id, render_html, render_markdown)

__all__ = ["VERDICT_ORDER", "MAX_LIST_ITEMS", "build_document", "write_report", "verdict_counts", "format_number",
           "format_value", "flatten_values"]

VERDICT_ORDER = ("holds", "holds-corrected", "fails", "inconclusive", "skipped", "error")
MAX_LIST_ITEMS = 6  # lists and arrays longer than this show their first items and their length or shape


def format_number(value) -> str:
    """Format a number with 6 significant digits; other values with str()."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _array_shape(value) -> tuple[int, ...] | None:
    """Return the shape of an ndarray or of a rectangular nested list of scalars, else None.

    A scalar (anything but a list, tuple, ndarray or dict) has shape (). Ragged lists and lists
    containing dicts have no shape.
    """
    if isinstance(value, np.ndarray):
        return value.shape
    if isinstance(value, dict):
        return None
    if not isinstance(value, (list, tuple)):
        return ()
    if not value:
        return (0,)
    shapes = {_array_shape(item) for item in value}
    if len(shapes) != 1 or None in shapes:
        return None
    return (len(value), *shapes.pop())


def _leading_values(value, count: int) -> list:
    """Return the first ``count`` scalars of an array or nested list, in row-major order."""
    if isinstance(value, np.ndarray):
        return value.ravel()[:count].tolist()
    found = []
    for item in value:
        if len(found) == count:
            break
        if isinstance(item, (list, tuple, np.ndarray)):
            found.extend(_leading_values(item, count - len(found)))
        else:
            found.append(item)
    return found


def format_value(value) -> str:
    """Format a value for a table cell or a terminal line, shortening long arrays.

    Scalars use :func:`format_number`. A list (or 1-D array) of up to MAX_LIST_ITEMS items is shown
    in full, a longer one as its first MAX_LIST_ITEMS items and its length. An array or rectangular
    nested list with two or more dimensions and more than MAX_LIST_ITEMS values is shown as its
    shape and its first values in row-major order. Dicts are formatted item by item.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return format_number(value.item())
    if isinstance(value, (list, tuple, np.ndarray)):
        shape = _array_shape(value)
        if shape is not None and len(shape) >= 2 and math.prod(shape) > MAX_LIST_ITEMS:
            shown = [format_value(v) for v in _leading_values(value, MAX_LIST_ITEMS)]
            return f"shape {shape}, first values [" + ", ".join(shown) + ", ...]"
        shown = [format_value(v) for v in value[:MAX_LIST_ITEMS]]
        if len(value) > MAX_LIST_ITEMS:
            return "[" + ", ".join(shown) + f", ... ({len(value)} values)]"
        return "[" + ", ".join(shown) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {format_value(v)}" for k, v in value.items()) + "}"
    return format_number(value)


def flatten_values(value, prefix: str = "") -> list[tuple[str, str]]:
    """Flatten nested dicts into (dotted key, formatted value) rows, in insertion order."""
    rows = []
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(item, dict) and item:
                rows.extend(flatten_values(item, path))
            else:
                rows.append((path, format_value(item)))
    else:
        rows.append((prefix or "value", format_value(value)))
    return rows


def verdict_counts(claims: list[dict]) -> dict:
    """Return {verdict: count} in VERDICT_ORDER, leaving out verdicts that do not occur."""
    counts = Counter(row.get("verdict") for row in claims)
    ordered = {v: counts[v] for v in VERDICT_ORDER if counts[v]}
    ordered.update({str(v): c for v, c in counts.items() if v not in VERDICT_ORDER})
    return ordered


def _counts_text(counts: dict) -> str:
    return ", ".join(f"{count} {verdict}" for verdict, count in counts.items()) or "no claims"


# ---------------------------------------------------------------------------------------------
# Sections


def _overview(doc: Document, results: dict):
    profile = results["profile"]
    claims = results["ledger"].get("claims", [])
    doc.add(Paragraph([f"Profile {profile['name']}: {profile.get('description', '')}"]))
    doc.add(Paragraph(["Verdicts: ", _counts_text(verdict_counts(claims)), ". ",
                       "holds: the printed statement agrees with the computation within the stated tolerance; "
                       "holds-corrected: the printed form fails and a stated correction holds; "
                       "fails: no correction found, a counterexample is attached; "
                       "inconclusive: the check could not decide, the reason is stated; "
                       "skipped: the experiment behind the statement did not run (for example, no CIFAR-10 data)."]))

    doc.add(Heading(2, "Claims", "claims"))
    if results["ledger"].get("error"):
        doc.add(Paragraph(["The claims ledger did not run to the end:"]), CodeBlock(results["ledger"]["error"]))
    rows = [[Link(row["id"], "#" + anchor_id("claim", row["id"])), row.get("title", ""), row.get("verdict", "")]
            for row in claims]
    doc.add(Table(["id", "title", "verdict"], rows, css_class="claims"))

    sections = results["experiments"].get("sections", [])
    doc.add(Heading(2, "Figures", "figures"))
    figure_rows = [[Link(results["kernel_regime"].get("title", "Kernel-regime summary"),
                         "#" + anchor_id("section", "kernel-regime")),
                    results["kernel_regime"].get("status", "ok")]]
    for section in sections:
        figure_rows.append([Link(section.get("title", section.get("id", "")), "#" + anchor_id("fig", section["id"])),
                            section.get("status", "")])
    doc.add(Table(["section", "status"], figure_rows))


def _kernel_regime(doc: Document, section: dict):
    doc.add(Heading(2, section.get("title", "Kernel-regime summary"), anchor_id("section", "kernel-regime")))
    if section.get("status") == "error":
        doc.add(Paragraph(["This section failed:"]), CodeBlock(section["error"]))
        return
    problems = section["problems"]
    first = problems[0] if problems else {}
    doc.add(Paragraph([
        f"Seeded synthetic problems with n = {first.get('n')} inputs on the unit sphere in d = {first.get('d')} "
        f"dimensions and m = {first.get('m')} hidden units, initialised as in the paper (w_k ~ N(0, kappa^2 I) with "
        f"kappa = {format_number(first.get('kappa'))}, a_k uniform on {{-1, +1}}). The poles p_j are the m n "
        "eigenvalues of Hbar, computed by three routes: (a) the symmetric-definite eigensolve, (b) the roots of "
        "\"-1 is an eigenvalue of T(-p)\", (c) the nonsymmetric eigensolver on the dense Hbar. "
        "p_min is the smallest nonzero pole; Theorem 3.3 states p_min >= lambda sigma_0 with sigma_0 the "
        "smallest nonzero eigenvalue over all H_k. Relative differences are max |p - q| / max p."
    ]))
    header = ["quantity"] + [f"{p['activation']}, lambda = {format_number(p['lam'])}" for p in problems]

    def row(label, getter):
        return [label] + [getter(p) for p in problems]

    def route_b(p, key):
        b = p.get("route_b")
        if b is None:
            return "not run (n too large)"
        value = b.get(key)
        return "not comparable (pole counts differ)" if value is None else format_number(value)

    rows = [
        row("pole count m n", lambda p: format_number(p["pole_count"])),
        row("zero poles (route a)", lambda p: format_number(p["zero_poles"])),
        row("inactive (unit, sample) rows", lambda p: format_number(p["inactive_rows"])),
        row("p_min", lambda p: format_number(p["p_min"])),
        row("p_max", lambda p: format_number(p["p_max"])),
        row("Theorem 3.3 bound lambda sigma_0", lambda p: format_number(p["thm33_lower_bound"])),
        row("p_min / (lambda sigma_0)", lambda p: format_number(p["p_min_over_bound"])),
        row("upper bound max||H_k|| (a_bar + lambda)", lambda p: format_number(p["upper_bound"])),
        row("p_max / upper bound", lambda p: format_number(p["p_max_over_upper"])),
        row("route a vs c, relative difference", lambda p: format_number(p["route_a_vs_c_rel"])),
        row("route c, max |imaginary part|", lambda p: format_number(p["route_c_max_imag"])),
        row("route b, poles found (of m n)", lambda p: route_b(p, "found")),
        row("route b, poles unaccounted for", lambda p: route_b(p, "missing")),
        row("route a vs b, relative difference", lambda p: route_b(p, "vs_a_rel")),
        row("smallest relative gap of H_k eigenvalues", lambda p: format_number(p["assumption_gaps"]["unit_gap"])),
        row("smallest relative gap of poles", lambda p: format_number(p["assumption_gaps"]["pole_gap"])),
    ]
    doc.add(Table(header, rows))
    doc.add(Paragraph(["Route (b) reports a negative count of poles unaccounted for when it returns more roots "
                       "than there are poles; the route a vs b difference is then not comparable."]))
    for figure in section.get("figures", []):
        doc.add(Image(figure, "poles of Hbar against Theorem 3.3's lower bound and the upper bound"))
    doc.add(Paragraph(["Nonzero poles in ascending order (log scale) with Theorem 3.3's bound lambda sigma_0 "
                       "(dashed) and the upper bound (dotted). Data: "]
                      + _links(section.get("data_files", []))))


def _links(paths: list[str]) -> list:
    spans = []
    for index, path in enumerate(paths):
        if index:
            spans.append(", ")
        spans.append(Link(path, path))
    return spans or ["none"]


def _claim(doc: Document, row: dict):
    doc.add(Heading(4, f"{row['id']}: {row.get('title', '')}", anchor_id("claim", row["id"])))
    items = [
        ["Verdict: ", row.get("verdict", "")],
        ["Statement as printed: ", row.get("statement", "")],
        ["Computed: ", row.get("computed", "")],
    ]
    if row.get("correction"):
        items.append(["Correction: ", row["correction"]])
    tolerance = row.get("tolerance")
    items.append(["Tolerance: ", format_number(tolerance) if tolerance is not None else "none",
                  " (" + (row.get("tolerance_reason") or "no reason given") + ")"])
    if row.get("reason"):
        items.append(["Reason: ", row["reason"]])
    if row.get("counterexample"):
        rel = f"counterexamples/{row['counterexample']}"
        items.append(["Counterexample: ", Link(rel, rel), "; replay it from the report folder with ",
                      Code(f"python -m verify replay {rel}")])
    doc.add(BulletList(items))
    evidence = row.get("evidence") or {}
    if evidence:
        doc.add(Table(["evidence", "value"], [[key, value] for key, value in flatten_values(evidence)]))


def _claims_by_group(doc: Document, claims: list[dict]):
    groups: dict[str, list[dict]] = {}
    for row in claims:
        groups.setdefault(row.get("group") or "other", []).append(row)
    for group, rows in groups.items():
        doc.add(Heading(3, f"Claims: {group}", anchor_id("group", group)))
        doc.add(Paragraph(["Verdicts in this group: ", _counts_text(verdict_counts(rows)), "."]))
        for row in rows:
            _claim(doc, row)


def _experiments(doc: Document, results: dict):
    experiments = results["experiments"]
    data = results["data"]
    doc.add(Heading(2, "Experiments on CIFAR-10 (Section 5)", "experiments"))
    if data.get("found"):
        doc.add(Paragraph([f"Data: {data['path']} ({data.get('format')}), sha256 ", Code(data.get("sha256") or "unknown"),
                           f", {data.get('n_train')} training and {data.get('n_test')} test images "
                           "(the experiments subsample them as their settings say)."]))
    else:
        doc.add(Paragraph(["CIFAR-10 was not found, so the CIFAR-10 sections are skipped. ", data.get("describe", "")]))
        doc.add(Paragraph(["To provide it: put cifar10_airplane_automobile.npz into <data dir>/cifar10/ "
                           "(or the official cifar-10-python.tar.gz, or its extracted folder cifar-10-batches-py, "
                           "into <data dir>), then pass ", Code("--data-dir <data dir>"), " or set ",
                           Code("KTHEORY_DATA_DIR"), ". The default data dir is <repository>/data."]))
    if experiments.get("message"):
        doc.add(Paragraph([experiments["message"]]))
    if experiments.get("error"):
        doc.add(CodeBlock(experiments["error"]))
    for section in experiments.get("sections", []):
        doc.add(Heading(3, section.get("title", section["id"]), anchor_id("fig", section["id"])))
        doc.add(Paragraph([f"Status: {section.get('status', 'unknown')}."]))
        if section.get("status") == "skipped":
            doc.add(Paragraph(["Skipped: ", section.get("skip_reason") or "no reason given"]))
        for figure in section.get("figures", []):
            doc.add(Image(figure, section.get("title", section["id"])))
        if section.get("caption"):
            doc.add(Paragraph([section["caption"]]))
        judged = [row for row in results["ledger"].get("claims", []) if row.get("figure") == section["id"]]
        if judged:
            spans = ["Statements judged from this figure's numbers: "]
            for index, row in enumerate(judged):
                spans += [", " if index else "", Link(row["id"], "#" + anchor_id("claim", row["id"])),
                          f" ({row.get('verdict', '')})"]
            doc.add(Paragraph(spans + ["."]))
        numbers = section.get("numbers") or {}
        if numbers:
            doc.add(Table(["number", "value"], [[k, v] for k, v in flatten_values(numbers)]))
        if section.get("data_files"):
            doc.add(Paragraph(["Data behind the figure: "] + _links(section["data_files"])))


def _load_text(load) -> str:
    """Format the load averages at the start and end of the run; other jobs on the machine slow it."""
    if not load:
        return "not recorded"
    return "; ".join(f"{when}: {', '.join(str(x) for x in load[when]) if load.get(when) else 'unknown'}"
                     for when in ("start", "end"))


def _provenance(doc: Document, provenance: dict, claims: list[dict]):
    doc.add(Heading(2, "Provenance", "provenance"))
    git = provenance.get("git", {})
    python = provenance.get("python", {})
    cpu = provenance.get("cpu", {})
    rows = [
        ["command", Code(provenance.get("command", ""))],
        ["profile", str(provenance.get("profile"))],
        ["git commit", str(git.get("commit", "unknown"))],
        ["uncommitted changes to tracked files", str(git.get("dirty", "unknown"))],
        ["Python", f"{python.get('version')} ({python.get('implementation')})"],
        ["CPU count (usable by this process)", f"{cpu.get('cpu_count')} ({cpu.get('usable_cpus')})"],
        ["load average (1, 5, 15 min) at start and end", _load_text(provenance.get("load_average"))],
        ["machine", f"{cpu.get('machine')}, {cpu.get('platform')}"],
    ]
    doc.add(Table(["item", "value"], rows))

    doc.add(Heading(3, "Packages", "provenance-packages"))
    doc.add(Table(["package", "version"], [[k, v] for k, v in provenance.get("packages", {}).items()]))

    doc.add(Heading(3, "Environment variables", "provenance-environment"))
    doc.add(Paragraph(["The data folder and the thread counts that the run saw (\"unset\": not set)."]))
    doc.add(Table(["variable", "value"], [[k, str(v)] for k, v in provenance.get("environment", {}).items()]))

    doc.add(Heading(3, "BLAS and threads", "provenance-blas"))
    doc.add(Table(["item", "value"], [[k, v] for k, v in flatten_values(provenance.get("blas", {}))]))

    doc.add(Heading(3, "Seeds", "provenance-seeds"))
    seeds = provenance.get("seeds", {})
    doc.add(Table(["setting", "seed"], [[k, format_number(v)] for k, v in seeds.items()]) if seeds
            else Paragraph(["No seed settings found in the configuration."]))

    doc.add(Heading(3, "Data files", "provenance-data"))
    files = provenance.get("data_files", {})
    doc.add(Table(["file", "sha256"], [[k, Code(v)] for k, v in files.items()]) if files
            else Paragraph(["No data file was read."]))

    doc.add(Heading(3, "Wall time", "provenance-time"))
    times = provenance.get("wall_time_s", {})
    doc.add(Table(["section", "seconds"], [[k, f"{v:.2f}"] for k, v in times.items()]))
    claim_times = [[row["id"], f"{row['wall_time_s']:.2f}"] for row in claims
                   if isinstance(row.get("wall_time_s"), (int, float))]
    if claim_times:
        doc.add(Table(["claim", "seconds"], claim_times))


def build_document(results: dict) -> Document:
    """Build the report document from the run's results (see :func:`verify.cli.run` for the layout)."""
    profile = results["profile"]
    doc = Document(f"ktheory verification report (profile {profile['name']})")
    doc.add(Paragraph(["Numerical verification of Panahi et al. (2022), \"Analysis of Knowledge Transfer in "
                       "Kernel Regime\": a computed verdict for each statement and the Section 5 experiments. "
                       "Files: ", Link("ledger.json", "ledger.json"), ", ", Link("config.json", "config.json"),
                       ", ", Link("report.md", "report.md"),
                       " and ", Link("index.html", "index.html"), " (the same report as Markdown and HTML)."]))
    _overview(doc, results)
    _kernel_regime(doc, results["kernel_regime"])
    doc.add(Heading(2, "Claims by group", "claims-by-group"))
    _claims_by_group(doc, results["ledger"].get("claims", []))
    _experiments(doc, results)
    doc.add(Anchor("end-of-results"))
    _provenance(doc, results["provenance"], results["ledger"].get("claims", []))
    return doc


def write_report(out_dir: Path, results: dict) -> tuple[Path, Path]:
    """Write ``report.md`` and ``index.html`` into ``out_dir``; return their paths."""
    out_dir = Path(out_dir)
    doc = build_document(results)
    md_path = out_dir / "report.md"
    html_path = out_dir / "index.html"
    md_path.write_text(render_markdown(doc), encoding="utf-8")
    html_path.write_text(render_html(doc), encoding="utf-8")
    return md_path, html_path


def write_json(path: Path, payload) -> None:
    """Write ``payload`` as indented JSON with sorted keys (stable bytes for equal content)."""
    Path(path).write_text(json.dumps(payload, indent=1, sort_keys=True, default=str) + "\n", encoding="utf-8")
