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
           "DEFAULT_SETTINGS", "load_all", "run_ledger", "replay"]

# Modules that register claims; each group of claims lives in one module.
CLAIM_MODULES: tuple[str, ...] = ()

DEFAULT_SETTINGS: dict[str, dict] = {"quick": {"seed": 0}, "paper": {"seed": 0}}


def load_all() -> dict:
    """Import every claim module so that CLAIMS and REPLAYS are complete; return CLAIMS."""
    for name in CLAIM_MODULES:
        importlib.import_module(f"{__name__}.{name}")
    return CLAIMS


def run_ledger(settings: dict | None = None, counterexample_dir: Path | None = None,
               progress: bool = False, only: list[str] | None = None) -> dict:
    """Run every registered claim (or the ids in ``only``) and return {"claims": [rows]}."""
    load_all()
    settings = dict(DEFAULT_SETTINGS["quick"] if settings is None else settings)
    seed = int(settings.get("seed", 0))
    ids = list(CLAIMS) if only is None else list(only)
    rows = [run_claim(CLAIMS[i], settings, seed, counterexample_dir, progress) for i in ids]
    return {"claims": rows}
