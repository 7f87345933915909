"""Helpers shared by the claim-module tests: tiny budgets and a replay of inline counterexamples."""

import json

from ktheory.claims import base, default_settings

# Budgets small enough that every claim of a module runs in a few seconds; the verdict may then
# differ from a full run, so tests at this budget only check that a valid verdict comes back.
TINY = {
    "spectral_instances": 3, "spectral_search_examples": 8,
    "laplace_instances": 3, "laplace_search_examples": 8,
    "remarks_instances": 3, "remarks_search_examples": 8,
}


def run(claim_id: str, **overrides) -> dict:
    """Run one claim at the tiny budget (or with ``overrides``) and return its ledger row."""
    settings = {**default_settings("quick"), **TINY, **overrides}
    return base.run_claim(base.CLAIMS[claim_id], settings, 0, None)


def replay_inline(tmp_path, claim_id: str, inputs: dict) -> dict:
    """Write ``inputs`` as a counterexample file of ``claim_id`` and replay it; return the recomputed sides."""
    path = tmp_path / f"{claim_id}.json"
    path.write_text(json.dumps({"claim_id": claim_id, "replay": claim_id, "inputs": inputs,
                                "printed": None, "computed": None}))
    return base.replay(path)["recomputed"]
