"""Every file and folder name of a run, in one place.

A training run folder (either stage) holds ``config.json``, ``metrics.jsonl``,
``checkpoints/step_N/`` and ``model/``; stage one adds ``pipeline.json``. The main job
(``behavior-tokens run``) puts each later stage in a sub-folder of the stage-one run, named by
:class:`RunLayout`, so the scripts' defaults, the report and the probes find them without being told, and
records itself in ``job.json`` and ``job_status.json`` beside them.
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
MANIFEST_FILE = "manifest.json"  # sha256 of every other file of an artifact folder: what the folder vouches for
JOB_FILE = "job.json"  # the main job as run (behavior-tokens run): one section per stage
JOB_STATUS = "job_status.json"  # what each stage of the main job did: seconds, sizes it adapted, what it left out


@dataclass(frozen=True)
class RunLayout:
    """The main job's folders: the stage-one run at ``root``, every later stage in a sub-folder named here."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @classmethod
    def of_export(cls, tokens: str | Path) -> RunLayout:
        """The run a token export in its default place (``RUN/tokens``) belongs to."""
        return cls(Path(tokens).parent)

    def _sub(self, name: str) -> Path:
        return self.root / name

    tokens = property(lambda self: self._sub("tokens"), doc="the token export (stage one's codes and syllables)")
    lm = property(lambda self: self._sub("lm"), doc="the GPT's training run")
    samples = property(lambda self: self._sub("samples"), doc="generated behavior and its checks")
    probe = property(lambda self: self._sub("probe"), doc="probes of every representation")
    vocabulary = property(lambda self: self._sub("vocabulary"), doc="vocabulary quality of every level")
    dictionary = property(lambda self: self._sub("dictionary"), doc="the token dictionary")
    surprisal = property(lambda self: self._sub("surprisal"), doc="surprisal timelines and injected faults")
    search = property(lambda self: self._sub("search"), doc="one sub-folder per search")
    groups = property(lambda self: self._sub("groups"), doc="group comparison")
    codebook = property(lambda self: self._sub("codebook"), doc="codebook analysis")
    html = property(lambda self: self._sub("html"), doc="the HTML page and its assets")
    report = property(lambda self: self._sub("report.md"))
    job = property(lambda self: self._sub(JOB_FILE))
    job_status = property(lambda self: self._sub(JOB_STATUS))
    quantizer_plot = property(lambda self: self._sub("training_quantizer.png"))
    lm_plot = property(lambda self: self._sub("training_lm.png"))
    metrics = property(lambda self: self._sub(METRICS_FILE))
    config = property(lambda self: self._sub(CONFIG_FILE))
