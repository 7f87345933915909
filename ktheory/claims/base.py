"""Framework of the claims ledger: claim registry, check results, counterexample files, replay.

A claim is one checkable statement of Panahi et al. (2022). Its check function receives a
:class:`CheckContext` (budget settings and a seeded Generator) and returns a :class:`CheckResult`
whose verdict is derived from measured numbers by :func:`decide`, never typed in.

Verdicts:

- ``holds``: the printed statement agrees with the measurement within the stated tolerance.
- ``holds-corrected``: the printed form fails on some instance, a stated correction holds on all.
- ``fails``: the printed form fails and no correction was found; a counterexample is attached.
- ``inconclusive``: the check could not decide (budget, conditioning); the reason is stated.

Counterexamples are JSON files holding every input written out and both sides of the printed
statement. Each records a ``replay`` key naming a registered replay function, so that
``replay(path)`` recomputes both sides from the stored inputs alone.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import InvalidArgumentError

__all__ = [
    "VERDICTS",
    "Claim",
    "CheckContext",
    "CheckResult",
    "Counterexample",
    "CLAIMS",
    "REPLAYS",
    "register",
    "register_replay",
    "decide",
    "to_jsonable",
    "write_counterexample",
    "replay",
    "run_claim",
]

VERDICTS = ("holds", "holds-corrected", "fails", "inconclusive")


@dataclass
class Counterexample:
    """A small input on which the printed statement fails, with both sides as computed.

    ``inputs`` must hold everything the replay function needs (arrays as nested lists, the
    activation by name, lambda, times); ``printed`` and ``computed`` are the two sides of the
    printed statement; ``replay`` names the function in :data:`REPLAYS` that recomputes them.
    """

    claim_id: str
    replay: str
    inputs: dict
    printed: Any
    computed: Any
    note: str = ""


@dataclass
class CheckResult:
    """Outcome of one claim check. ``evidence`` contains the numbers the verdict was derived from."""

    verdict: str
    computed: str
    tolerance: float | None
    tolerance_reason: str
    evidence: dict = field(default_factory=dict)
    correction: str | None = None
    counterexample: Counterexample | None = None
    reason: str = ""

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise InvalidArgumentError(f"verdict must be one of {VERDICTS}; got {self.verdict!r}")


@dataclass
class CheckContext:
    """Budget and randomness for one claim check.

    ``settings`` contains the budgets of the profile (see ``ktheory.claims.default_settings``). ``rng``
    is seeded from the profile seed and the claim id, so a claim's outcome does not depend on which
    other claims ran before it.
    """

    settings: dict
    rng: np.random.Generator
    progress: bool = False

    def get(self, key: str, default=None):
        return self.settings.get(key, default)


@dataclass
class Claim:
    """A registered statement: id, group, title, the statement as printed and its check."""

    id: str
    group: str
    title: str
    statement: str
    check: Callable[[CheckContext], CheckResult]


CLAIMS: dict[str, Claim] = {}
REPLAYS: dict[str, Callable[[dict], dict]] = {}


def register(id: str, group: str, title: str, statement: str):
    """Register the decorated function as the check of claim ``id``."""

    def wrap(fn):
        if id in CLAIMS:
            raise InvalidArgumentError(f"claim id {id!r} is registered twice")
        CLAIMS[id] = Claim(id, group, title, statement, fn)
        return fn

    return wrap


def register_replay(name: str):
    """Register the decorated function as a replay: inputs dict -> {"printed": ..., "computed": ...}."""

    def wrap(fn):
        if name in REPLAYS:
            raise InvalidArgumentError(f"replay {name!r} is registered twice")
        REPLAYS[name] = fn
        return fn

    return wrap


def decide(printed_ok: bool, corrected_ok: bool | None = None, decidable: bool = True) -> str:
    """Map measured outcomes to a verdict.

    ``printed_ok``: the printed statement held on every instance tried. ``corrected_ok``: a stated
    correction held on every instance (None when no correction is on offer). ``decidable``: the
    measurements were accurate enough to tell (conditioning, budget).
    """
    if not decidable:
        return "inconclusive"
    if printed_ok:
        return "holds"
    if corrected_ok:
        return "holds-corrected"
    return "fails"


def to_jsonable(value):
    """Convert numpy scalars and arrays (nested in dicts, lists, dataclasses) to JSON types."""
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (np.floating,)):
        return to_jsonable(float(value))
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, float):
        if np.isnan(value):
            return "nan"
        if np.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(value, complex):
        return {"re": value.real, "im": value.imag}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return to_jsonable(asdict(value))
    return value


def write_counterexample(example: Counterexample, directory: Path) -> Path:
    """Write ``example`` as ``<directory>/<claim id>.json`` (sorted keys, stable bytes) and return the path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{example.claim_id}.json"
    payload = to_jsonable(asdict(example))
    path.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")
    return path


def replay(path) -> dict:
    """Recompute a counterexample file and return its stored and recomputed sides.

    Returns ``{"claim_id", "replay", "inputs", "stored": {"printed", "computed"},
    "recomputed": {"printed", "computed"}, "note"}``, with ``inputs`` as stored in the file.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InvalidArgumentError(f"counterexample file {str(path)!r} not found") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidArgumentError(f"counterexample file {str(path)!r} is not readable JSON ({exc})") from None
    for key in ("claim_id", "replay", "inputs"):
        if key not in data:
            raise InvalidArgumentError(f"counterexample file {str(path)!r} lacks the key {key!r}")
    # Importing the claim modules fills REPLAYS.
    from . import load_all

    load_all()
    if data["replay"] not in REPLAYS:
        raise InvalidArgumentError(
            f"counterexample file {str(path)!r} names the unknown replay {data['replay']!r}; "
            f"known: {', '.join(sorted(REPLAYS))}"
        )
    again = REPLAYS[data["replay"]](data["inputs"])
    return {
        "claim_id": data["claim_id"],
        "replay": data["replay"],
        "inputs": data["inputs"],
        "stored": {"printed": data.get("printed"), "computed": data.get("computed")},
        "recomputed": to_jsonable(again),
        "note": data.get("note", ""),
    }


def run_claim(claim: Claim, settings: dict, seed: int, counterexample_dir: Path | None,
              progress: bool = False) -> dict:
    """Run one claim check and return its ledger row (a JSON-ready dict)."""
    # Seed per claim from (profile seed, claim id) so reordering claims changes nothing.
    digest = np.frombuffer(claim.id.encode().ljust(32, b"\0")[:32], dtype=np.uint32)
    rng = np.random.default_rng([int(seed), *digest.tolist()])
    ctx = CheckContext(settings, rng, progress)
    start = time.perf_counter()
    result = claim.check(ctx)
    wall = time.perf_counter() - start
    ce_name = None
    if result.counterexample is not None and counterexample_dir is not None:
        ce_name = write_counterexample(result.counterexample, counterexample_dir).name
    return {
        "id": claim.id,
        "group": claim.group,
        "title": claim.title,
        "statement": claim.statement,
        "verdict": result.verdict,
        "correction": result.correction,
        "computed": result.computed,
        "tolerance": to_jsonable(result.tolerance),
        "tolerance_reason": result.tolerance_reason,
        "reason": result.reason,
        "evidence": to_jsonable(result.evidence),
        "counterexample": ce_name,
        "counterexample_data": to_jsonable(asdict(result.counterexample)) if result.counterexample else None,
        "wall_time_s": round(wall, 3),
    }
