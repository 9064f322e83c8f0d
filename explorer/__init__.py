"""The explorer: what a run's tokens hold. Probes of every representation, per-frame GPT embeddings,
vocabulary quality, the token dictionary with grid movies, surprisal, search, group comparison, and the run's
report and HTML page."""

from .embeddings import frame_embeddings
from .units import UnitEncoder

__all__ = ["UnitEncoder", "frame_embeddings"]
