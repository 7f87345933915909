"""Profiles (checked-in JSON budgets) and the resolution of the run configuration.

A profile is a JSON object with these keys:

- ``name``, ``description``: shown in the report.
- ``ledger_defaults``: "quick" or "paper", the claims package's default budgets to start from.
- ``ledger``: overrides of those budgets (keys documented in ``ktheory.claims``).
- ``kernel_regime``: the seeded synthetic problem of the kernel-regime summary: ``seed``, ``n``,
  ``d``, ``m``, ``kappa`` and ``problems``, a list of {"activation", "lam"}.
- ``experiments``: the Section 5 experiments' settings, passed unchanged to
  ``verify.figures.run_experiments``.

``--profile NAME`` reads ``verify/profiles/NAME.json`` (shipped as package data); a value that ends
in ``.json`` or names an existing file is read as a path.
"""

from __future__ import annotations

import json
from pathlib import Path

from ktheory.errors import InvalidArgumentError

__all__ = ["PROFILE_DIR", "REPO_ROOT", "known_profiles", "load_profile", "ledger_settings"]

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"
# The checkout that contains this package, whose git state the provenance records.
REPO_ROOT = Path(__file__).resolve().parent.parent
REQUIRED_KEYS = ("ledger", "kernel_regime", "experiments")
KERNEL_REGIME_KEYS = ("seed", "n", "d", "m", "kappa", "problems")


def known_profiles() -> list[str]:
    """Return the names of the profiles shipped in ``verify/profiles/``, sorted."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.json"))


def load_profile(spec: str) -> tuple[dict, Path]:
    """Read the profile named or located by ``spec``; return (profile dict, file it came from).

    Raises InvalidArgumentError for an unknown name (listing the known ones), an unreadable file,
    invalid JSON or missing keys.
    """
    spec = str(spec)
    candidate = Path(spec)
    if spec.endswith(".json") or candidate.is_file():
        path = candidate
        if not path.is_file():
            raise InvalidArgumentError(f"profile file {spec!r} not found; give a profile name "
                                       f"({', '.join(known_profiles())}) or the path of a JSON file")
    else:
        path = PROFILE_DIR / f"{spec}.json"
        if not path.is_file():
            raise InvalidArgumentError(
                f"unknown profile {spec!r}; known profiles: {', '.join(known_profiles())} "
                "(or pass the path of a profile JSON file)"
            )
    try:
        profile = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgumentError(f"profile file {str(path)!r} is not readable ({exc})") from None
    except json.JSONDecodeError as exc:
        raise InvalidArgumentError(f"profile file {str(path)!r} is not valid JSON ({exc})") from None
    if not isinstance(profile, dict):
        raise InvalidArgumentError(f"profile file {str(path)!r} must hold a JSON object; got {type(profile).__name__}")
    missing = [key for key in REQUIRED_KEYS if key not in profile]
    if missing:
        raise InvalidArgumentError(f"profile file {str(path)!r} lacks the keys {missing}; "
                                   f"see {PROFILE_DIR / 'quick.json'} for the layout")
    for key in REQUIRED_KEYS:
        if not isinstance(profile[key], dict):
            raise InvalidArgumentError(f"profile key {key!r} in {str(path)!r} must be a JSON object; "
                                       f"got {profile[key]!r}")
    kernel = profile["kernel_regime"]
    missing = [key for key in KERNEL_REGIME_KEYS if key not in kernel]
    if missing:
        raise InvalidArgumentError(f"profile section 'kernel_regime' in {str(path)!r} lacks the keys {missing}")
    problems = kernel["problems"]
    if (not isinstance(problems, list) or not problems
            or not all(isinstance(p, dict) and {"activation", "lam"} <= set(p) for p in problems)):
        raise InvalidArgumentError(f"profile key 'kernel_regime.problems' in {str(path)!r} must be a non-empty list "
                                   f'of {{"activation": name, "lam": number}} objects; got {problems!r}')
    defaults = profile.setdefault("ledger_defaults", "quick")
    if defaults not in ("quick", "paper"):
        raise InvalidArgumentError(f"profile key 'ledger_defaults' in {str(path)!r} must be 'quick' or 'paper'; "
                                   f"got {defaults!r}")
    profile.setdefault("name", path.stem)
    profile.setdefault("description", "")
    return profile, path


def ledger_settings(profile: dict) -> dict:
    """Return the claims package's defaults for ``profile["ledger_defaults"]`` updated by ``profile["ledger"]``."""
    from ktheory.claims import default_settings

    settings = dict(default_settings(profile["ledger_defaults"]))
    settings.update(profile["ledger"])
    return settings
