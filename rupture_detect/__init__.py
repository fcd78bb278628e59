"""rupture_detect: find alliance-rupture markers in anonymised psychotherapy transcripts.

Research, supervision and training support: its flags are prompts for human
reflection, not clinical verdicts.
"""

from .api import Scores, make_scorer, score
from .nlp.pipeline import build_pipeline, load_pipeline
from .taxonomy import load_taxonomy

__all__ = ["score", "Scores", "make_scorer", "build_pipeline", "load_pipeline", "load_taxonomy"]
__version__ = "0.1.0"
