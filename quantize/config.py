"""The one configuration of stage one, saved as JSON beside every checkpoint and result.

Defaults reproduce the research setting (G=2, V=320, gamma 0.25, window 30, a 2-layer
bidirectional GRU of 256 units). Fields under "from the data" are filled when the data is read
and are never set by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from behavior_tokens.core.config import RunConfig, option
from behavior_tokens.core.errors import ConfigError
from behavior_tokens.data import PoseFormatName

from .families import FAMILIES, FamilyName

Mode = Literal["egocentric", "baseline"]
Distance = Literal["euclidean", "cosine"]
Precision = Literal["no", "fp16", "bf16"]


@dataclass
class QuantizerConfig(RunConfig):
    RESUME_MAY_CHANGE: ClassVar[frozenset[str]] = RunConfig.RESUME_MAY_CHANGE | {
        "eval_stride", "eval_max_windows", "svm_max_train", "svm_max_eval", "tree_max_train"}

    # Data
    source: str = option("synthetic", help="'synthetic[:N[:MINUTES]]', a pose file or folder, a dlc/ + boris/ folder")
    pose_format: PoseFormatName = option("auto", help="format of the pose files ('auto': recognised by their content)")
    fps: float = option(0.0, ge=0, help="frames per second of pose files that do not state it (0: the files' "
                        "own); the run records the data's")
    test_videos: list[str] = option(default_factory=list, help="videos moved to the held-out split")
    val_fraction: float = option(0.0, ge=0, le=0.9, help="fraction of train videos carved as validation")
    holdout_fraction: float = option(0.2, ge=0, le=0.9, help="where the source holds nothing out (no test split, no "
                                     "--test_videos): the share of the recording held out, its end: the last videos "
                                     "by name, or the last frames of a single video (0: none)")
    mode: Mode = option("egocentric", help="'egocentric' (aligned on the resident) or 'baseline' (no alignment)")
    axis_from: str = option("", help="the part the body axis runs from (default: chosen from the names, e.g. the "
                            "tail base)")
    axis_to: str = option("", help="the part the body axis runs to, turned onto +y (default: chosen from the names, "
                          "e.g. the neck, the head or the nose)")
    anchor: str = option("", help="the part held at the origin (default: --axis_to)")
    relational: bool = option(False, help="add the resident's egomotion and inter-animal distances and angles "
                              "(data.relational) beside the keypoints")
    window: int = option(30, ge=2, help="frames per training window")
    stride: int = option(1, ge=1, help="stride between training windows")
    # Model
    family: FamilyName = option("gru", help="encoder/decoder family")
    hidden_size: int = option(256, ge=1)
    num_layers: int = option(2, ge=1, help="GRU encoder layers")
    decoder_layers: int = option(1, ge=1, help="GRU decoder layers (VAME: 1)")
    conv_layers: int = option(4, ge=1, help="conv encoder layers (receptive field 2^(layers+1) - 1 frames)")
    dropout: float = option(0.0, ge=0, le=0.9)
    latent_dim: int = option(32, ge=1)
    future_decoder: bool = option(False, help="VAME's second decoder, predicting the next future_steps frames")
    future_steps: int = option(15, ge=1)
    code_rate: int = option(1, ge=1, help="frames per code (conv): one code per k frames from a pooled latent, "
                            "decoded by upsampling")
    contrastive_weight: float = option(0.0, ge=0, help="weight of vq-wav2vec's contrastive prediction of future "
                                       "quantized steps (families with per-frame latents)")
    contrastive_steps: int = option(4, ge=1, help="future steps the contrastive objective predicts")
    contrastive_negatives: int = option(10, ge=1, help="distractors per prediction")
    # Quantizer
    groups: int = option(2, ge=1, help="G: groups of the product quantizer")
    codewords: int = option(320, ge=2, help="V: codewords per group")
    gamma: float = option(0.25, ge=0, help="weight of the commitment loss")
    eta: float = option(1.0, ge=0, help="weight of the k-means loss")
    coarse_codewords: int = option(0, ge=0, help="a coarse level of this many codewords before the groups, which "
                                   "quantize its residual (0: none); codes then have 1 + G columns, coarse first")
    shared_codebook: bool = False
    distance: Distance = "euclidean"
    kmeans_init: bool = option(False, help="k-means initialisation of the codebooks on the first batch")
    dead_restart_steps: int = option(0, ge=0, help="re-seed codewords unused this many steps (0: never)")
    # Training
    lr: float = option(1e-3, gt=0)
    batch_size: int = option(256, ge=1)
    max_steps: int = option(2000, ge=1)
    seed: int = option(0, ge=0)
    mixed_precision: Precision = option("no", help="accelerate's mixed precision")
    output_dir: str = "runs/quantizer"
    log_every: int = option(50, ge=1)
    eval_every: int = option(0, ge=0, help="steps between validations; 0 = once per epoch")
    checkpoint_every: int = option(500, ge=1)
    eval_stride: int = option(2, ge=1, help="stride of validation windows")
    eval_max_windows: int = option(100_000, ge=10, help="cap on the validation windows (evenly spaced among those "
                                   "--eval_stride gives), so validation costs the same on hours of held-out video")
    svm_max_train: int = option(3000, ge=10, help="cap on windows an SVM is fitted on")
    svm_max_eval: int = option(6000, ge=10, help="cap on held-out windows an SVM scores")
    tree_max_train: int = option(30000, ge=10, help="cap on windows the codeword tree is fitted on")
    resume: bool = False
    overwrite: bool = option(False, help="replace the run in output_dir (only a run this project made)")
    # From the data (filled in by the training run)
    n_features: int = option(0, init=False)
    n_animals: int = option(0, init=False)
    n_parts: int = option(0, init=False)
    vocab: dict[str, int] = option(default_factory=dict, init=False)
    bodyparts: list[str] = option(default_factory=list, init=False)
    individuals: list[str] = option(default_factory=list, init=False)
    splits: dict[str, list[str]] = option(default_factory=dict, init=False)  # {split: video keys}, as trained
    source_sha256: dict[str, str] = option(default_factory=dict, init=False)  # {file: sha256} of the source read

    def validate(self) -> None:
        """Raise ConfigError for settings that cannot work, naming the flag."""
        super().validate()
        if self.latent_dim % self.groups:
            raise ConfigError("--latent_dim", f"{self.latent_dim} is not divisible by --groups {self.groups}",
                              "make latent_dim a multiple of groups")
        family = FAMILIES[self.family]
        if self.future_decoder and not family.supports_future:
            raise ConfigError("--future_decoder", f"the {self.family} family has no future decoder",
                              f"use it with {', '.join(n for n, f in FAMILIES.items() if f.supports_future)}")
        per_frame = ", ".join(n for n, f in FAMILIES.items() if f.frame_latents)
        if self.code_rate > 1 and not family.frame_latents:
            raise ConfigError("--code_rate", f"the {self.family} family has one latent per window",
                              f"use it with {per_frame}")
        if self.window % self.code_rate:
            raise ConfigError("--code_rate", f"{self.code_rate} does not divide --window {self.window}",
                              "choose a divisor of the window")
        if self.contrastive_weight > 0 and not family.frame_latents:
            raise ConfigError("--contrastive_weight", f"the {self.family} family has one latent per window, "
                              "nothing to predict from", f"use it with {per_frame}")
        if self.coarse_codewords == 1 or self.coarse_codewords > self.codewords:
            raise ConfigError("--coarse_codewords", f"{self.coarse_codewords} is not a coarse level of at most "
                              f"--codewords {self.codewords} codewords", "give 0 (none) or 2..codewords")

    @property
    def code_columns(self) -> int:
        """Columns of a frame's codes: the G groups, after the coarse code when there is one."""
        return self.groups + (1 if self.coarse_codewords else 0)

    @property
    def future_frames(self) -> int:
        """Frames the future decoder predicts after each window (0 without it)."""
        return self.future_steps if self.future_decoder else 0

    @property
    def input_length(self) -> int:
        """Frames per training example: the window, plus the future the second decoder predicts."""
        return self.window + self.future_frames
