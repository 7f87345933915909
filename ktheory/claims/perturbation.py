"""Placeholder until the claims of this group are written."""

SETTINGS: dict = {"quick": {}, "paper": {}}
