"""The one configuration of stage two (the GPT over behavior tokens), saved beside every checkpoint.

Defaults give a ~1M-parameter GPT-2 (4 layers, width 128, 4 heads, context 256) that trains in a
few minutes on a CPU. Fields under "from the data" are filled from the export and its tokenizer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from quantize.config import RunConfig


@dataclass
class LMConfig(RunConfig):
    RESUME_MAY_CHANGE: ClassVar[frozenset[str]] = RunConfig.RESUME_MAY_CHANGE | {
        "push_to_hub", "private", "eval_tokens"}

    # Data
    tokens: str = field(default="runs/quickstart/tokens",
                        metadata={"help": "an export folder (scripts/export_tokens.py) or a Hub dataset id"})
    train_splits: list[str] = field(default_factory=lambda: ["train", "unlabeled"],
                                    metadata={"help": "splits trained on (those present are used)"})
    eval_split: str = field(default="", metadata={"help": "held-out split; default: validation, else test"})
    # Model (GPT-2)
    n_layer: int = 4
    n_embd: int = 128
    n_head: int = 4
    block_size: int = field(default=256, metadata={"help": "context length in tokens"})
    dropout: float = 0.1
    # Training
    lr: float = 1e-3
    weight_decay: float = 0.1
    warmup_steps: int = 50
    batch_size: int = 32
    grad_accum: int = field(default=1, metadata={"help": "batches per optimizer step"})
    max_steps: int = 600
    seed: int = 0
    mixed_precision: str = field(default="no", metadata={"help": "'no', 'fp16' or 'bf16' (accelerate)"})
    output_dir: str = "runs/lm"
    log_every: int = 25
    eval_every: int = field(default=200, metadata={"help": "steps between held-out evaluations (0: at the end)"})
    eval_tokens: int = field(default=0, metadata={"help": "cap on held-out tokens scored (0: all)"})
    checkpoint_every: int = 200
    resume: bool = False
    overwrite: bool = False
    push_to_hub: str = field(default="", metadata={"help": "REPO_ID to push the trained model and tokenizer to"})
    private: bool = False
    # From the data
    vocab_size: int = field(default=0, init=False)
    scheme: str = field(default="", init=False)
    fps: float = field(default=0.0, init=False)

    def validate(self) -> None:
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd {self.n_embd} is not divisible by n_head={self.n_head}")
        if self.block_size < 2:
            raise ValueError(f"block_size must be >= 2 tokens, got {self.block_size}")
        if self.grad_accum < 1 or self.batch_size < 1:
            raise ValueError("batch_size and grad_accum must be >= 1")
