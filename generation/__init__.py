"""Generated behavior: samples of the GPT rendered as keypoints (sampled syllables shown as real training
instances, joined as bodies move) and checked against the real videos."""

from .checks import evaluate_generation
from .codes import RunLengths, sample_code_batch, sample_codes
from .instances import SyllableInstances
from .joins import BodyMove
from .run import GenerateConfig, generate_behavior

__all__ = ["BodyMove", "GenerateConfig", "RunLengths", "SyllableInstances", "evaluate_generation",
           "generate_behavior", "sample_code_batch", "sample_codes"]
