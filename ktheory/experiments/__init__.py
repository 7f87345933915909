"""Knowledge-transfer experiments on two-class data (teacher, students, kernel embedding, overlaps).

Computation only: the functions return arrays and result objects; ``verify.figures`` draws the
figures and writes the report files.
"""

from .alignment import AlignfResult, NystromEmbedding, alignf, alignf_solve, centered_alignment, nystrom_embedding
from .overlap import Figure4Overlaps, column_overlaps, figure4_overlaps, top_eigenvectors
from .scenarios import (
    DEFAULT_SETTINGS,
    CoreRuns,
    EmbeddingRuns,
    Problem,
    RunRecord,
    embedding_runs,
    resolve_settings,
    run_core,
    subsample,
    NetworkSpec,
    train_group,
)

__all__ = [
    "AlignfResult", "NystromEmbedding", "alignf", "alignf_solve", "centered_alignment", "nystrom_embedding",
    "Figure4Overlaps", "column_overlaps", "figure4_overlaps", "top_eigenvectors",
    "DEFAULT_SETTINGS", "CoreRuns", "EmbeddingRuns", "Problem", "RunRecord", "embedding_runs",
    "resolve_settings", "run_core", "subsample", "NetworkSpec", "train_group",
]
