"""Every file and folder name of a run, in one place.

A training run folder (either stage) holds ``config.json``, ``metrics.jsonl``,
``checkpoints/step_N/`` and ``model/``; stage one adds ``pipeline.json``. The main job
(``scripts/quickstart.sh``) puts each later stage in a sub-folder of the stage-one run, named by
:class:`RunLayout`, so the scripts' defaults, the report and the probes find them without being told.
Every folder a step writes carries a marker file naming that step, so ``--overwrite`` can tell
what this project made from what it did not.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CONFIG_FILE = "config.json"
PIPELINE_FILE = "pipeline.json"
METRICS_FILE = "metrics.jsonl"
CHECKPOINTS_DIR = "checkpoints"
CHECKPOINT_PREFIX = "step_"
STATE_FILE = "training_state.json"  # written last: a checkpoint without it is incomplete
MODEL_DIR = "model"
MODEL_FILE = "model.safetensors"
LM_CONFIG_FILE = "lm_config.json"
EXPORT_META = "export.json"
DATASET_DIR = "dataset"
PARQUET_DIR = "data"
TOKENIZER_DIR = "tokenizer"
TOKENIZER_REPORT = "report.json"
EVAL_FILE = "eval.json"
STREAMS_DIR = "streams"
MARKER_FILE = ".behavior-tokens.json"  # {"kind": ...}: this project made the folder


@dataclass(frozen=True)
class RunLayout:
    """The main job's folders: the stage-one run at ``root``, every later stage beneath it."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def tokens(self) -> Path:
        return self.root / "tokens"

    @property
    def lm(self) -> Path:
        return self.root / "lm"

    @property
    def probe(self) -> Path:
        return self.root / "probe"

    @property
    def codebook(self) -> Path:
        return self.root / "codebook"

    @property
    def vocabulary(self) -> Path:
        return self.root / "vocabulary"

    @property
    def samples(self) -> Path:
        return self.root / "samples"

    @property
    def report(self) -> Path:
        return self.root / "report.md"

    @property
    def metrics(self) -> Path:
        return self.root / METRICS_FILE

    @property
    def config(self) -> Path:
        return self.root / CONFIG_FILE
