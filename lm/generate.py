"""Generate behavior: GPT tokens -> codewords -> the stage-one decoder -> keypoints, saved and drawn.

A sample continues the first ``prompt_seconds`` of a held-out video (or starts from nothing) for
``seconds`` of behavior. Token durations come from the token where it fixes them (groups,
combined, bpe); ``rle`` tokens carry no duration, so each sampled run gets one drawn from that
token's run lengths in the training split. Prompt frames keep their real codes and labels.
Decoded keypoints are egocentric (see quantize.decode): the resident is held at the dataset's
mean position, body axis up. Each sample is written as a record folder (``data.load_records``),
its tokens and codes (``.npz``), a strip of frames above an ethogram (``.png``) and a ``.gif``.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForCausalLM

from data import MISSING_LABEL, PoseRecord, save_records
from data.plots import animate, plot_sample
from quantize import load_quantizer
from quantize.checkpoint import prepare_output_dir
from quantize.decode import decode_record

from .config import LMConfig
from .data import EXPORT_META, TokenExport, held_out_split, load_token_export
from .sampling import sample_tokens
from .tokenizer import BehaviorTokenizer


@dataclass
class GenerateConfig:
    lm: str = field(metadata={"help": "a train_lm run folder (or its model/ folder)"})
    output_dir: str = field(metadata={"help": "where samples go"})
    quantizer: str = field(default="", metadata={"help": "stage-one run; default: the one the tokens came from"})
    tokens: str = field(default="", metadata={"help": "token export for prompts; default: the LM's"})
    prompt_video: str = field(default="", metadata={"help": "held-out video to prompt with; default: the first"})
    prompt_seconds: float = field(default=2.0, metadata={"help": "seconds of real behavior before sampling (0: none)"})
    seconds: float = field(default=10.0, metadata={"help": "seconds of behavior to sample"})
    samples: int = 2
    temperature: float = 1.0
    top_k: int = 0
    seed: int = 0
    gif: bool = True
    overwrite: bool = False


def load_lm(folder: str | Path) -> tuple[torch.nn.Module, BehaviorTokenizer, LMConfig, dict]:
    """(model, tokenizer, config, export metadata) of a model saved by ``train_lm``."""
    folder = Path(folder)
    if (folder / "model" / "lm_config.json").exists():
        folder = folder / "model"
    if not (folder / "lm_config.json").exists():
        raise FileNotFoundError(f"{folder}: no lm_config.json; expected a train_lm run or its model/ folder")
    model = AutoModelForCausalLM.from_pretrained(str(folder)).eval()
    return (model, BehaviorTokenizer.from_pretrained(folder), LMConfig.load(folder / "lm_config.json"),
            json.loads((folder / EXPORT_META).read_text()))


class RunLengths:
    """Per-token run lengths seen in training, to give sampled ``rle`` tokens a duration."""

    def __init__(self, encoded: list[tuple[np.ndarray, np.ndarray]]):
        """``encoded``: (token ids, durations) of each training video, as ``BehaviorTokenizer.encode`` gives."""
        seen: dict[int, list[int]] = defaultdict(list)
        for ids, durations in encoded:
            for i, d in zip(ids.tolist(), durations.tolist(), strict=True):
                seen[i].append(d)
        self.seen = {i: np.asarray(d) for i, d in seen.items()}
        self.all = np.concatenate(list(self.seen.values())) if self.seen else np.ones(1, dtype=np.int64)

    def sample(self, ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return np.array([rng.choice(self.seen.get(i, self.all)) for i in ids.tolist()], dtype=np.int64)


def token_durations(tokenizer: BehaviorTokenizer, ids: np.ndarray) -> np.ndarray | None:
    """Frames each token stands for, where the token alone fixes it (None for rle)."""
    scheme = tokenizer.scheme.scheme
    if scheme == "groups":
        return np.full(len(ids), 1.0 / tokenizer.scheme.groups)
    if scheme == "combined":
        return np.ones(len(ids), dtype=np.int64)
    if scheme == "bpe":
        inv = {i: t for t, i in tokenizer.hf.get_vocab().items()}
        return np.array([len(inv[i]) for i in ids.tolist()], dtype=np.int64)
    return None


def sample_codes(model, tokenizer: BehaviorTokenizer, prompt_codes: np.ndarray, n_frames: int, *,
                 tokens_per_frame: float, run_lengths: RunLengths | None, temperature: float, top_k: int,
                 seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``n_frames`` frames of codes after ``prompt_codes`` (T0, G); returns (codes, sampled ids)."""
    g = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    G = tokenizer.scheme.groups
    prompt_ids = tokenizer.encode(prompt_codes)[0] if len(prompt_codes) else np.zeros(0, dtype=np.int64)
    new_ids, new_codes, frames = np.zeros(0, dtype=np.int64), [], 0
    while frames < n_frames:
        n = max(1, math.ceil((n_frames - frames) * tokens_per_frame))
        if tokenizer.scheme.scheme == "groups":
            n = G * math.ceil(n / G)  # whole frames
        ids = sample_tokens(model, tokenizer, np.concatenate([prompt_ids, new_ids]), n, temperature=temperature,
                            top_k=top_k, generator=g)
        durations = token_durations(tokenizer, ids)
        if durations is None:
            durations = run_lengths.sample(ids, rng)
        codes = tokenizer.decode(ids, durations)
        new_ids = np.concatenate([new_ids, ids])
        new_codes.append(codes)
        frames += len(codes)
    return np.concatenate(new_codes)[:n_frames], new_ids


def generate_behavior(cfg: GenerateConfig) -> list[PoseRecord]:
    """Write ``cfg.samples`` generated videos into ``cfg.output_dir``; returns their records."""
    model, tok, lm_cfg, meta = load_lm(cfg.lm)
    export: TokenExport = load_token_export(cfg.tokens or lm_cfg.tokens)
    if not (cfg.quantizer or meta.get("checkpoint")):
        raise ValueError("the export does not name its quantizer; pass --quantizer RUN_DIR")
    quantizer, pipeline = load_quantizer(cfg.quantizer or meta["checkpoint"])
    fps = export.fps
    held = held_out_split(export, lm_cfg.eval_split)
    rows = export.dataset[held]
    names = list(rows["video_id"])
    if cfg.prompt_video and cfg.prompt_video not in names:
        raise ValueError(f"no video {cfg.prompt_video!r} in the {held} split; it has {names}")
    pick = names.index(cfg.prompt_video) if cfg.prompt_video else 0
    n_prompt = int(round(cfg.prompt_seconds * fps))
    real_codes = np.asarray(rows[pick]["codes"], dtype=np.int64)[:n_prompt]
    real_labels = np.asarray(rows[pick]["labels"], dtype=np.int64)[:n_prompt]
    # Training videos tokenized once: the token rate sizes each sampling round, run lengths give rle durations.
    encoded, frames = [], 0
    for codes in (c for s in lm_cfg.train_splits if s in export.dataset for c in export.video_codes(s)):
        encoded.append(tok.encode(codes))
        frames += len(codes)
    tpf = sum(len(ids) for ids, _ in encoded) / max(1, frames)
    run_lengths = RunLengths(encoded) if tok.scheme.scheme == "rle" else None
    out = Path(cfg.output_dir)
    prepare_output_dir(out, resume=False, overwrite=cfg.overwrite)
    (out / "generate_config.json").write_text(json.dumps(asdict(cfg), indent=2))
    records = []
    for i in range(cfg.samples):
        codes, ids = sample_codes(model, tok, real_codes, int(round(cfg.seconds * fps)), tokens_per_frame=tpf,
                                  run_lengths=run_lengths, temperature=cfg.temperature, top_k=cfg.top_k,
                                  seed=cfg.seed + i)
        all_codes = np.concatenate([real_codes, codes])
        labels = np.concatenate([real_labels, np.full(len(codes), MISSING_LABEL, dtype=np.int64)])
        name = f"sample_{i:03d}"
        rec = decode_record(quantizer, pipeline, all_codes, f"{name} ({names[pick]} + {cfg.seconds:g} s)", labels)
        save_records([rec], out / name)
        np.savez(out / f"{name}.npz", codes=all_codes, sampled_ids=ids, prompt_frames=len(real_codes))
        plot_sample(rec, out / f"{name}.png", codes=all_codes, prompt_frames=len(real_codes))
        if cfg.gif:
            animate(rec, out / f"{name}.gif", max_frames=150, step=max(1, rec.n_frames // 150))
        records.append(rec)
    return records
