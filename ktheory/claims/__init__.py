"""The claims ledger: one computed verdict per statement of Panahi et al. (2022).

``CLAIMS`` maps each claim id to its :class:`~ktheory.claims.base.Claim`; ``run_ledger`` runs them
and returns the rows of ``ledger.json``; ``replay`` recomputes a counterexample file. Claim modules
register themselves on import; :func:`load_all` imports every one of them.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from .base import CLAIMS, REPLAYS, VERDICTS, Claim, CheckContext, CheckResult, Counterexample, replay, run_claim

__all__ = ["CLAIMS", "REPLAYS", "VERDICTS", "Claim", "CheckContext", "CheckResult", "Counterexample",
           "default_settings", "load_all", "run_ledger", "replay"]

# Modules that register claims, one per group of claims. Each defines SETTINGS = {"quick": {...},
# "paper": {...}} with its budget keys; a profile's ledger section overrides any of them.
CLAIM_MODULES: tuple[str, ...] = (
    "spectral_claims",
    "laplace_claims",
    "remarks",
    "perturbation",
    "dynamics",
    "asymptotic",
)


def load_all() -> dict:
    """Import every claim module so that CLAIMS and REPLAYS are complete; return CLAIMS."""
    for name in CLAIM_MODULES:
        importlib.import_module(f"{__name__}.{name}")
    # The Section 5 statements are judged from the experiments' numbers, not run as ledger checks,
    # but their counterexamples replay through REPLAYS like every other.
    importlib.import_module(f"{__name__}.section5")
    return CLAIMS


def default_settings(profile: str) -> dict:
    """Return the merged ledger settings of every claim module for ``profile`` ("quick" or "paper")."""
    if profile not in ("quick", "paper"):
        raise ValueError(f"profile must be 'quick' or 'paper'; got {profile!r}")
    merged = {"seed": 0}
    for name in CLAIM_MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        merged.update(getattr(module, "SETTINGS", {}).get(profile, {}))
    return merged


def run_ledger(settings: dict | None = None, counterexample_dir: Path | None = None,
               progress: bool = False, only: list[str] | None = None) -> dict:
    """Run every registered claim (or the ids in ``only``) and return {"claims": [rows]}."""
    load_all()
    settings = {**default_settings("quick"), **(settings or {})}
    seed = int(settings.get("seed", 0))
    ids = list(CLAIMS) if only is None else list(only)
    rows = [run_claim(CLAIMS[i], settings, seed, counterexample_dir, progress) for i in ids]
    return {"claims": rows}
