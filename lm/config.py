"""The one configuration of stage two (the GPT over behavior tokens), saved beside every checkpoint.

Defaults give a ~1M-parameter GPT-2 (4 layers, width 128, 4 heads, context 256) that trains in a
few minutes on a CPU. Fields under "from the data" are filled from the export and its tokenizer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from behavior_tokens.core.config import RunConfig, option
from behavior_tokens.core.errors import ConfigError

from .positions import PositionName


@dataclass
class LMConfig(RunConfig):
    RESUME_MAY_CHANGE: ClassVar[frozenset[str]] = RunConfig.RESUME_MAY_CHANGE | {
        "push_to_hub", "private", "eval_tokens"}

    # Data
    tokens: str = option("runs/quickstart/tokens",
                         help="an export folder (scripts/export_tokens.py) or a Hub dataset id")
    train_splits: list[str] = option(default_factory=lambda: ["train", "unlabeled"],
                                     help="splits trained on (those present are used)")
    eval_split: str = option("", help="held-out split; default: validation, else test")
    # Model
    positions: PositionName = option("learned", help="learned: GPT-2's absolute positions (the research setting); "
                                     "rotary: GPT-NeoX with rotary positions, which learns from short streams what "
                                     "came a few tokens back (the main job's preset)")
    n_layer: int = option(4, ge=1)
    n_embd: int = option(128, ge=1)
    n_head: int = option(4, ge=1)
    block_size: int = option(256, ge=2, help="context length in tokens")
    block_stride: int = option(0, ge=0, help="tokens between the starts of training blocks (0: block_size, blocks "
                               "do not overlap; smaller: more, overlapping blocks from a short stream)")
    dropout: float = option(0.1, ge=0, le=0.9)
    # Training
    lr: float = option(1e-3, gt=0)
    weight_decay: float = option(0.1, ge=0)
    warmup_steps: int = option(50, ge=0)
    batch_size: int = option(32, ge=1)
    grad_accum: int = option(1, ge=1, help="batches per optimizer step")
    max_steps: int = option(600, ge=1)
    seed: int = option(0, ge=0)
    mixed_precision: Literal["no", "fp16", "bf16"] = option("no", help="accelerate's mixed precision")
    output_dir: str = option("", help="the run folder (default: lm/ beside the --tokens folder)")
    log_every: int = option(25, ge=1)
    eval_every: int = option(200, ge=0, help="steps between held-out evaluations (0: at the end)")
    eval_tokens: int = option(0, ge=0, help="cap on held-out tokens scored (0: all)")
    patience: int = option(0, ge=0, help="early stopping: stop after this many evaluations without a better loss "
                           "on the early-stopping tokens (0: never); the best weights are the model saved")
    stop_fraction: float = option(0.1, gt=0, le=0.5, help="with --patience and no validation split: the share of "
                                  "the training stream (its end) kept apart for early stopping")
    checkpoint_every: int = option(200, ge=1)
    resume: bool = False
    overwrite: bool = option(False, help="replace the run in output_dir (only a run this project made)")
    push_to_hub: str = option("", help="REPO_ID to push the trained model and tokenizer to")
    private: bool = False
    # From the data
    vocab_size: int = option(0, init=False)
    scheme: str = option("", init=False)
    fps: float = option(0.0, init=False)
    export_fingerprint: str = option("", init=False)  # the export trained on (its manifest's sha256)

    def validate(self) -> None:
        super().validate()
        if self.n_embd % self.n_head:
            raise ConfigError("--n_embd", f"{self.n_embd} is not divisible by --n_head {self.n_head}",
                              "make n_embd a multiple of n_head")
