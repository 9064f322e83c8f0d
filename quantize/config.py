"""The one configuration of stage one, saved as JSON beside every checkpoint and result.

Defaults reproduce the research setting (G=2, V=320, gamma 0.25, window 30, a 2-layer
bidirectional GRU of 256 units). Fields under "from the data" are filled when the data is read
and are never set by hand.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import ClassVar


class RunConfig:
    """JSON save/load and the resume check shared by every training config (a dataclass mixin).

    Fields declared with ``init=False`` are filled from the data and restored on load.
    """

    # Fields that may differ between a checkpoint and the run resuming it.
    RESUME_MAY_CHANGE: ClassVar[frozenset[str]] = frozenset(
        {"max_steps", "resume", "overwrite", "eval_every", "log_every", "checkpoint_every", "output_dir",
         "mixed_precision"})

    def to_dict(self) -> dict:
        return asdict(self)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True))

    @classmethod
    def load(cls, path: str | Path):
        d = json.loads(Path(path).read_text())
        cfg = cls(**{f.name: d[f.name] for f in fields(cls) if f.init and f.name in d})
        for f in fields(cls):
            if not f.init and f.name in d:
                setattr(cfg, f.name, d[f.name])
        return cfg

    def differences(self, other: RunConfig) -> dict[str, tuple]:
        """Fields (other than those a resume may change) whose values differ: {name: (self, other)}."""
        a, b = self.to_dict(), other.to_dict()
        return {k: (a[k], b[k]) for k in a if k not in self.RESUME_MAY_CHANGE and a[k] != b[k]}


@dataclass
class QuantizerConfig(RunConfig):
    RESUME_MAY_CHANGE: ClassVar[frozenset[str]] = RunConfig.RESUME_MAY_CHANGE | {
        "eval_stride", "svm_max_train", "svm_max_eval", "tree_max_train"}

    # Data
    source: str = field(default="synthetic", metadata={"help": "'synthetic', a CalMS21 file/folder, a DLC(+BORIS) folder"})
    test_videos: list[str] = field(default_factory=list, metadata={"help": "videos moved to the held-out split"})
    val_fraction: float = field(default=0.0, metadata={"help": "fraction of train videos carved as validation"})
    mode: str = field(default="egocentric", metadata={"help": "'egocentric' or 'baseline' (no alignment)"})
    window: int = 30
    stride: int = field(default=1, metadata={"help": "stride between training windows"})
    # Model
    family: str = field(default="gru", metadata={"help": "'gru' (VAME-style) or 'conv' (temporal convolutions)"})
    hidden_size: int = 256
    num_layers: int = field(default=2, metadata={"help": "GRU encoder layers"})
    decoder_layers: int = field(default=1, metadata={"help": "GRU decoder layers (VAME: 1)"})
    conv_layers: int = 4
    dropout: float = 0.0
    latent_dim: int = 32
    future_decoder: bool = False
    future_steps: int = 15
    # Quantizer
    groups: int = 2
    codewords: int = 320
    gamma: float = 0.25
    eta: float = 1.0
    shared_codebook: bool = False
    distance: str = "euclidean"
    kmeans_init: bool = False
    dead_restart_steps: int = 0
    # Training
    lr: float = 1e-3
    batch_size: int = 256
    max_steps: int = 2000
    seed: int = 0
    mixed_precision: str = field(default="no", metadata={"help": "'no', 'fp16' or 'bf16' (accelerate)"})
    output_dir: str = "runs/quantizer"
    log_every: int = 50
    eval_every: int = field(default=0, metadata={"help": "steps between validations; 0 = once per epoch"})
    checkpoint_every: int = 500
    eval_stride: int = field(default=2, metadata={"help": "stride of validation windows"})
    svm_max_train: int = field(default=3000, metadata={"help": "cap on windows an SVM/tree is fitted on"})
    svm_max_eval: int = field(default=6000, metadata={"help": "cap on held-out windows an SVM scores"})
    tree_max_train: int = field(default=30000, metadata={"help": "cap on windows the codeword tree is fitted on"})
    resume: bool = False
    overwrite: bool = False
    # From the data (filled in by the training run)
    n_features: int = field(default=0, init=False)
    n_animals: int = field(default=0, init=False)
    n_parts: int = field(default=0, init=False)
    fps: float = field(default=0.0, init=False)
    vocab: dict[str, int] = field(default_factory=dict, init=False)
    bodyparts: list[str] = field(default_factory=list, init=False)
    individuals: list[str] = field(default_factory=list, init=False)

    def validate(self) -> None:
        """Raise ValueError for settings that cannot work, one clear message each."""
        if self.latent_dim % self.groups:
            raise ValueError(f"latent_dim {self.latent_dim} is not divisible by groups={self.groups}")
        if self.codewords < 2:
            raise ValueError(f"codewords (V) must be >= 2, got {self.codewords}")
        if self.family not in ("gru", "conv"):
            raise ValueError(f"family {self.family!r}: expected 'gru' or 'conv'")
        if self.mode not in ("egocentric", "baseline"):
            raise ValueError(f"mode {self.mode!r}: expected 'egocentric' or 'baseline'")
        if self.future_decoder and self.family != "gru":
            raise ValueError("future_decoder belongs to the gru family (VAME's second decoder)")
        if self.window < 2:
            raise ValueError(f"window must be >= 2 frames, got {self.window}")

    @property
    def input_length(self) -> int:
        """Frames per training example: the window, plus the future the second decoder predicts."""
        return self.window + (self.future_steps if self.future_decoder and self.family == "gru" else 0)
