"""The verification report of ktheory: ``python -m verify`` runs a profile and writes the report.

Modules: :mod:`verify.cli` (command line and the run), :mod:`verify.config` (profiles),
:mod:`verify.kernel_regime` (synthetic pole summary), :mod:`verify.report` and
:mod:`verify.document` (Markdown and HTML output), :mod:`verify.provenance`, and
:mod:`verify.figures` (the Section 5 experiments and their figures).
"""

from .cli import main

__all__ = ["main"]
