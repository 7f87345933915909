"""Command line of ``python -m verify``: run a profile and write the report, or replay a counterexample.

``python -m verify [--profile NAME|PATH] [--out DIR] [--data-dir DIR] [--claims IDS] [--no-progress]``
runs four steps in order. The data check comes first, so a corrupt CIFAR-10 file stops the run
before anything else. Then come the kernel-regime summary of synthetic problems, the claims ledger
and the Section 5 experiments. The output folder receives ``config.json``, ``ledger.json``,
``counterexamples/``, ``figures/``, ``report.md`` and ``index.html``.

``python -m verify replay FILE`` recomputes a counterexample file and prints its inputs (long
arrays shortened) and both sides.

Exit status:

- 0: every section ran. CIFAR-10 sections skipped for missing data count as run.
- 1: a section or a claim check raised. The report is still written and shows the error.
- 2: invalid input (command line, profile, counterexample file, or an unreadable data file).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path

from ktheory.errors import InvalidArgumentError
from ktheory.experiments.scenarios import resolve_settings

from . import provenance as prov
from .config import REPO_ROOT, known_profiles, ledger_settings, load_profile
from .kernel_regime import run_kernel_regime
from .report import MAX_LIST_ITEMS, flatten_values, verdict_counts, write_json, write_report

__all__ = ["main", "run", "replay_command", "build_parser", "build_replay_parser", "EXIT_OK", "EXIT_FAILED",
           "EXIT_INVALID", "EXIT_INTERRUPTED"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_INTERRUPTED = 130  # the shell convention for a command stopped by SIGINT (128 + 2)
PROG = "python -m verify"


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of the main command (the report)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Run the numerical verification of Panahi et al. (2022) and write the report "
                    "(index.html, report.md, ledger.json, config.json, figures/, counterexamples/).",
        epilog="Replay a counterexample: python -m verify replay FILE (see python -m verify replay --help). "
               "Regenerate the README's report example: python -m verify readme REPORT_DIR. "
               "Exit status: 0 every section ran (missing CIFAR-10 data only skips its sections); "
               "1 a section or claim check raised, the report shows the error; "
               "2 invalid command line, profile or data file.",
    )
    parser.add_argument(
        "--profile", default="quick", metavar="NAME|PATH",
        help="budgets of every section: a profile name (%(choices_text)s) read from verify/profiles/, "
             "or the path of a profile JSON file. Default: quick (about 5 minutes on a quiet 2-core machine with CIFAR-10 data)."
             % {"choices_text": ", ".join(known_profiles())},
    )
    parser.add_argument(
        "--out", default="report", metavar="DIR",
        help="folder the report is written into, created if missing; files of an earlier run there are "
             "overwritten and its counterexamples/*.json removed. Default: report (in the current directory).",
    )
    parser.add_argument(
        "--data-dir", default=None, metavar="DIR",
        help="folder searched for CIFAR-10: DIR/cifar10/cifar10_airplane_automobile.npz, or the official "
             "cifar-10-python.tar.gz or its extracted cifar-10-batches-py folder. Default: the environment "
             "variable KTHEORY_DATA_DIR, else <repository>/data. Without data the CIFAR-10 sections are skipped.",
    )
    parser.add_argument(
        "--claims", default=None, metavar="IDS",
        help="comma-separated claim ids to run (for example thm3.1,thm3.3). Default: every claim.",
    )
    parser.add_argument(
        "--no-progress", action="store_true",
        help="print no progress bars and no section messages on stderr. Bars are also off when stderr is "
             "not a terminal; the one-line summary on stdout is always printed.",
    )
    return parser


def build_replay_parser() -> argparse.ArgumentParser:
    """Return the parser of the ``replay`` subcommand."""
    parser = argparse.ArgumentParser(
        prog=f"{PROG} replay",
        description="Recompute a counterexample JSON file written by the claims ledger (in the report's "
                    "counterexamples/ folder). Print its inputs, with arrays longer than "
                    f"{MAX_LIST_ITEMS} values shortened to their first values and their length or shape, "
                    "then its stored and recomputed sides as JSON.",
        epilog="Exit status: 0 the file was replayed; 2 the file is missing, not valid JSON or not a counterexample.",
    )
    parser.add_argument("file", metavar="FILE", help="path of the counterexample JSON file")
    return parser


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


class _Log:
    """Section messages and progress bars on stderr."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.bars = (not quiet) and sys.stderr.isatty()

    def __call__(self, message: str) -> None:
        if not self.quiet:
            print(f"[verify] {message}", file=sys.stderr, flush=True)


def _load_average():
    """Return the 1, 5 and 15 minute load averages, or None where the OS has none (Windows)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _load_data(data_dir: str | None, log: _Log):
    """Find and load CIFAR-10; return (Dataset or None, JSON-ready data status).

    Raises DataFileError (with the file name) when a file is found but cannot be read.
    """
    from ktheory.data.cifar import find_cifar10, load_cifar10

    status = find_cifar10(data_dir)
    record = {"found": status.found, "data_dir": str(status.data_dir), "data_dir_source": status.data_dir_source,
              "searched": [str(p) for p in status.searched], "describe": status.describe()}
    if not status.found:
        log(f"{status.describe()}. The CIFAR-10 sections are skipped; to run them, pass --data-dir DIR "
            "or set KTHEORY_DATA_DIR to a folder with cifar10/cifar10_airplane_automobile.npz or the "
            "official cifar-10-python.tar.gz")
        return None, record
    log(f"loading CIFAR-10 from {status.path}")
    data = load_cifar10(path=status.path)
    record.update({"path": str(status.path), "format": status.format, "sha256": data.info.get("sha256"),
                   "n_train": int(data.X.shape[0]), "n_test": int(data.X_test.shape[0]) if data.X_test is not None else 0})
    return data, record


def _error_row(claim, exc_text: str) -> dict:
    return {"id": claim.id, "group": claim.group, "title": claim.title, "statement": claim.statement,
            "verdict": "error", "correction": None, "computed": "", "tolerance": None,
            "tolerance_reason": "", "reason": exc_text.strip().splitlines()[-1], "evidence": {},
            "counterexample": None, "wall_time_s": None, "error": exc_text}


def _run_ledger(settings: dict, claims: list, out_dir: Path, log: _Log) -> dict:
    """Run the claims one by one (for a progress bar and per-claim error capture); return {"claims": rows}."""
    from tqdm import tqdm

    from ktheory.claims import run_ledger

    rows = []
    with tqdm(total=len(claims), desc="claims", unit="claim", file=sys.stderr, disable=not log.bars) as bar:
        for claim in claims:
            bar.set_postfix_str(claim.id)
            tick = time.perf_counter()
            try:
                result = run_ledger(settings, counterexample_dir=out_dir / "counterexamples",
                                    progress=log.bars, only=[claim.id])
                rows.extend(result["claims"])
            except Exception:  # a failing check is reported in the ledger, and the run goes on
                rows.append(_error_row(claim, traceback.format_exc()))
            bar.update(1)
            if not log.bars:  # without a bar (stderr not a terminal), one line per claim for the log
                verdict = rows[-1]["verdict"] if rows and rows[-1]["id"] == claim.id else "no ledger row"
                log(f"claim {claim.id}: {verdict} ({time.perf_counter() - tick:.1f} s)")
    for row in rows:
        # The counterexample file contains these data, and ledger.json links to it instead.
        row.pop("counterexample_data", None)
    return {"claims": rows}


def _run_experiments(config: dict, data, out_dir: Path, log: _Log, data_dir: str | None) -> dict:
    from .figures import run_experiments  # imported here: it loads matplotlib and the experiment code

    sections = run_experiments(config, data, out_dir, log.bars, data_dir=data_dir,
                               log=None if log.bars else log)
    for section in sections:
        if "id" not in section:
            raise InvalidArgumentError(f"run_experiments returned a section without an 'id': {sorted(section)}")
    return {"sections": list(sections), "status": "ok"}


def _judge_statements(experiments: dict, settings: dict, out_dir: Path) -> list[dict]:
    """Return the ledger rows of the Section 5 statements, judged from the figures' numbers files.

    The numbers are read back from ``figures/*_numbers.json`` of this run, so the verdicts follow
    from exactly the files the report links to. Figures that did not run give "skipped" rows.
    """
    from ktheory.claims.section5 import NUMBER_FILES, STATEMENTS, judge_statements, load_numbers

    ran = {s["id"] for s in experiments.get("sections", []) if s.get("status") == "ok"}
    reasons = {s["id"]: s.get("skip_reason") or f"the section's status is {s.get('status')}"
               for s in experiments.get("sections", []) if s.get("status") != "ok"}
    for fid in NUMBER_FILES:
        if fid not in ran:
            reasons.setdefault(fid, "the experiments did not run to the end (see the experiments section)")
    try:
        numbers = {k: v for k, v in load_numbers(out_dir / "figures").items() if k in ran}
        return judge_statements(numbers, settings, out_dir / "counterexamples", skipped=reasons)
    except Exception:  # shown in the report as error rows; the run goes on
        text = traceback.format_exc()
        return [_error_row(st, text) for st in STATEMENTS]


def _clear_counterexamples(out_dir: Path) -> None:
    folder = out_dir / "counterexamples"
    if folder.is_dir():
        for stale in folder.glob("*.json"):
            stale.unlink()


def _select_claims(spec: str | None) -> list:
    """Return the registered Claim objects named in ``spec`` (comma-separated ids), or all of them."""
    import ktheory.claims

    claims = ktheory.claims.load_all()
    if spec is None:
        return list(claims.values())
    ids = [part.strip() for part in spec.split(",") if part.strip()]
    if not ids:
        raise InvalidArgumentError(f"--claims is empty ({spec!r}); pass comma-separated claim ids, or leave "
                                   "the option out to run every claim")
    unknown = [i for i in ids if i not in claims]
    if unknown:
        from ktheory.claims.section5 import STATEMENTS

        judged = [i for i in unknown if i in {st.id for st in STATEMENTS}]
        hint = (f" ({', '.join(judged)} are Section 5 statements: they are judged from the experiments after "
                "every run and cannot be selected)") if judged else ""
        raise InvalidArgumentError(f"--claims names unknown claim ids {unknown}{hint}; known: {', '.join(claims)}")
    return [claims[i] for i in ids]


def run(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    """Run every section for the parsed ``args`` and write the report; return the exit status."""
    start = time.perf_counter()
    load_start = _load_average()
    log = _Log(args.no_progress)
    wall: dict[str, float] = {}
    failed = False
    try:
        profile, profile_path = load_profile(args.profile)
        settings = ledger_settings(profile)
        claims = _select_claims(args.claims)
        # Checked here, so that a typo in the profile stops the run before the long sections.
        experiment_settings = resolve_settings(profile["experiments"])
        out_dir = Path(args.out)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "figures").mkdir(exist_ok=True)
        tick = time.perf_counter()
        data, data_record = _load_data(args.data_dir, log)
        wall["data"] = time.perf_counter() - tick
    except InvalidArgumentError as exc:  # DataFileError included: it names the file
        _error(str(exc))
        return EXIT_INVALID
    except OSError as exc:
        _error(f"cannot prepare the output folder {args.out!r}: {exc}")
        return EXIT_INVALID

    config = {"profile": profile, "profile_file": str(profile_path), "ledger_settings": settings,
              "experiment_settings": experiment_settings,
              "claims": [claim.id for claim in claims], "out": str(out_dir), "data": data_record}
    write_json(out_dir / "config.json", config)
    _clear_counterexamples(out_dir)

    log(f"kernel-regime summary ({len(profile['kernel_regime']['problems'])} problems)")
    tick = time.perf_counter()
    try:
        kernel = {**run_kernel_regime(profile["kernel_regime"], out_dir), "status": "ok"}
    except Exception:  # shown in the report; the other sections still run
        kernel = {"status": "error", "error": traceback.format_exc(), "title": "Kernel-regime summary", "figures": []}
        failed = True
    wall["kernel_regime"] = time.perf_counter() - tick

    log(f"claims ledger ({len(claims)} claims, {profile['ledger_defaults']} budgets)")
    tick = time.perf_counter()
    ledger = _run_ledger(settings, claims, out_dir, log)
    failed |= any(row["verdict"] == "error" for row in ledger["claims"])
    wall["ledger"] = time.perf_counter() - tick

    log("experiments" + ("" if data is not None else " (no CIFAR-10 data: CIFAR-10 sections are skipped)"))
    tick = time.perf_counter()
    try:
        experiments = _run_experiments(profile["experiments"], data, out_dir, log, args.data_dir)
    except Exception:  # shown in the report
        experiments = {"sections": [], "status": "error", "error": traceback.format_exc(),
                       "message": "The experiments raised an error:"}
        failed = True
    wall["experiments"] = time.perf_counter() - tick
    statements = _judge_statements(experiments, experiment_settings, out_dir)
    failed |= any(row["verdict"] == "error" for row in statements)
    ledger["claims"].extend(statements)
    for section in experiments["sections"]:
        if isinstance(section.get("wall_time_s"), (int, float)):
            wall[f"experiments: {section['id']}"] = float(section["wall_time_s"])
    wall["total"] = time.perf_counter() - start

    data_files = {data_record["path"]: data_record["sha256"]} if data_record.get("found") else {}
    provenance = prov.collect(REPO_ROOT, config, argv, data_files, {k: round(v, 3) for k, v in wall.items()})
    provenance["load_average"] = {"start": load_start, "end": _load_average()}
    write_json(out_dir / "ledger.json", {"claims": ledger["claims"], "provenance": provenance})
    results = {"profile": profile, "kernel_regime": kernel, "ledger": ledger, "data": data_record,
               "experiments": experiments, "provenance": provenance}
    _, html_path = write_report(out_dir, results)

    counts = verdict_counts(ledger["claims"])
    statuses = [s.get("status") for s in experiments["sections"]]
    summary = ", ".join(f"{n} {v}" for v, n in counts.items()) or "no claims"
    print(f"report: {html_path}; claims: {summary}; experiment sections: {statuses.count('ok')} ok, "
          f"{statuses.count('skipped')} skipped; wall time {wall['total']:.0f} s")
    return EXIT_FAILED if failed else EXIT_OK


def replay_command(argv: list[str]) -> int:
    """Run ``python -m verify replay FILE``; return the exit status."""
    args = build_replay_parser().parse_args(argv)
    from ktheory.claims import replay

    try:
        result = replay(args.file)
    except InvalidArgumentError as exc:
        _error(f"{exc}. Pass a file from the counterexamples/ folder of a report, as linked from the "
               "report's claim sections")
        return EXIT_INVALID
    print(f"claim {result['claim_id']} (replay function {result['replay']})")
    if result.get("note"):
        print(f"note: {result['note']}")
    print("inputs (arrays shortened; the file has them in full):")
    for key, value in flatten_values(result["inputs"]):
        print(f"  {key}: {value}")
    print("stored:")
    print(json.dumps(result["stored"], indent=1, sort_keys=True, default=str))
    print("recomputed:")
    print(json.dumps(result["recomputed"], indent=1, sort_keys=True, default=str))
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m verify``; return the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "replay":
        return replay_command(argv[1:])
    if argv and argv[0] == "readme":
        from .readme import readme_command

        return readme_command(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return run(args, argv)
    except KeyboardInterrupt:
        checkpoints = Path(args.out) / "checkpoints"
        if checkpoints.is_dir():
            hint = (f"rerun the same command to continue: finished networks are loaded from {checkpoints} "
                    "and unfinished ones resume from their last checkpoint")
        else:
            hint = "this profile keeps no checkpoints, so a rerun starts over"
        print(f"[verify] interrupted; {hint}", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
