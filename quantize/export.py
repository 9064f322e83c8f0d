"""Encode every frame of every video into codewords and export a ``datasets.DatasetDict``.

Each frame gets the codes of the window centred on it (edges padded by repeating the first and
last frame); with ``stride`` s > 1 only every s-th frame is encoded and its codes cover the s
frames from it. The conv family encodes a whole video in one pass. Output folder::

    dataset/            DatasetDict.save_to_disk (load_from_disk)
    data/SPLIT-*.parquet  the same rows (load_dataset("parquet", ...)), what the Hub serves
    README.md           dataset card (YAML header)
    export.json         quantizer config, checkpoint sha256, G, V, vocabulary, export settings

Rows are videos: ``video_id``, ``annotator``, ``fps``, ``n_frames``, ``codes`` (T x G int16),
``labels`` (T int16, -1 unlabeled) and optionally ``z_q`` (T x D float32).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from data import PosePipeline, PoseRecord, load_pose_source, sliding_windows

from .checkpoint import MODEL_FILE, load_quantizer, model_folder
from .config import QuantizerConfig
from .models import BehaviorQuantizer


@dataclass
class ExportConfig:
    checkpoint: str = field(metadata={"help": "a training run folder (or its model/ folder)"})
    output_dir: str = field(metadata={"help": "where the export goes"})
    source: str = field(default="", metadata={"help": "pose source; default: the one the quantizer was trained on"})
    test_videos: list[str] = field(default_factory=list, metadata={"help": "default: the training run's"})
    stride: int = field(default=1, metadata={"help": "encode every s-th frame (1 = one token per frame)"})
    batch_size: int = 1024
    with_z_q: bool = field(default=False, metadata={"help": "also store the frame-aligned quantized latents"})
    license: str = field(default="other", metadata={"help": "license field of the dataset card"})
    push_to_hub: str = field(default="", metadata={"help": "REPO_ID to push the DatasetDict to"})
    private: bool = False
    overwrite: bool = False


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class FrameCodes:
    """Per-frame outputs of the quantizer for one video (frame t: the window centred on t)."""

    codes: np.ndarray  # (T, G) int16
    z_e: np.ndarray  # (T, D) float32, before quantization
    z_q: np.ndarray  # (T, D) float32, the codewords


@torch.no_grad()
def encode_record(model: BehaviorQuantizer, pipeline: PosePipeline, record: PoseRecord, *, stride: int = 1,
                  batch_size: int = 1024, device: str | torch.device = "cpu") -> FrameCodes:
    """Codes and latents of every frame of one video (with stride s, frame t gets frame s*(t//s)'s)."""
    cfg = model.cfg
    W, T = cfg.window, record.n_frames
    feats, _ = pipeline.forward(record)  # (T, F)
    before, after = W // 2, W - 1 - W // 2
    padded = np.concatenate([np.repeat(feats[:1], before, 0), feats, np.repeat(feats[-1:], after, 0)])  # (T+W-1, F)
    if cfg.family == "conv":
        z_e = model.net.encode(torch.from_numpy(padded).to(device)[None])[:, before:before + T:stride]  # (1, T', D)
        z_q, codes, _ = model.quantizer(z_e)
        z_e, z_q, codes = z_e[0], z_q[0], codes[0]
    else:
        windows = sliding_windows(padded, W, stride)  # (T', W, F) view; window i is centred on frame i*stride
        parts = []
        for b in range(0, len(windows), batch_size):
            x = torch.from_numpy(np.ascontiguousarray(windows[b:b + batch_size])).to(device)
            parts.append(model.encode_center(x))  # (z_e, z_q, codes), each (b, .)
        z_e, z_q, codes = (torch.cat(p) for p in zip(*parts, strict=True))

    def per_frame(x: torch.Tensor, dtype) -> np.ndarray:
        return np.repeat(x.float().cpu().numpy().astype(dtype), stride, axis=0)[:T]

    return FrameCodes(per_frame(codes, np.int16), per_frame(z_e, np.float32), per_frame(z_q, np.float32))


def _features(G: int, D: int, with_z_q: bool):
    from datasets import Features, List, Value
    cols = {"video_id": Value("string"), "annotator": Value("string"), "fps": Value("float32"),
            "n_frames": Value("int32"), "codes": List(List(Value("int16"), length=G)), "labels": List(Value("int16"))}
    if with_z_q:
        cols["z_q"] = List(List(Value("float32"), length=D))
    return Features(cols)


def _card(meta: dict, splits: dict[str, tuple[int, int]], license: str) -> str:
    cfg = meta["quantizer_config"]
    yaml_splits = "\n".join(f"  - split: {s}\n    path: data/{s}-*.parquet" for s in splits)
    rows = "\n".join(f"| {s} | {v} | {f} |" for s, (v, f) in splits.items())
    return f"""---
license: {license}
tags:
- behavior
- pose-estimation
- animal-behavior
- behavior-tokens
task_categories:
- other
configs:
- config_name: default
  data_files:
{yaml_splits}
---

# Behavior tokens: {Path(cfg['source']).name or cfg['source']}

Per-frame codewords of a k-means product quantizer (vq-wav2vec style; G={cfg['groups']} groups x
V={cfg['codewords']} codewords) over a {cfg['family'].upper()} encoder of {cfg['window']}-frame
{cfg['mode']} pose windows, made with [behavior-tokens](https://github.com/) `scripts/export_tokens.py`.

| split | videos | frames |
|---|---|---|
{rows}

Each row is a video: `codes` is T x G (int16, group g's codeword in 0..V-1), `labels` is T
(-1 where unlabeled); vocabulary {json.dumps(meta['vocab'])}; {meta['fps']:g} frames per second;
one code tuple per frame (export stride {meta['stride']}).

Quantizer checkpoint sha256 `{meta['checkpoint_sha256']}`; its full config is in `export.json`.

```python
from datasets import load_dataset
ds = load_dataset("parquet", data_dir="data")  # or load_dataset(REPO_ID), or datasets.load_from_disk("dataset")
codes = ds["train"][0]["codes"]
```
"""


def _atomic_dir(final: Path, overwrite: bool) -> Path:
    if final.exists() and any(final.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{final} already holds an export; pass --overwrite to replace it")
    final.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=final.name + ".tmp", dir=final.parent))


def export_tokens(cfg: ExportConfig, device: str | torch.device = "cpu", progress: bool = True):
    """Run the export; returns the DatasetDict (also written to ``cfg.output_dir``)."""
    from datasets import Dataset, DatasetDict, DatasetInfo

    if cfg.stride < 1:
        raise ValueError(f"stride must be >= 1, got {cfg.stride}")
    model, pipeline = load_quantizer(cfg.checkpoint, device=device)
    qcfg: QuantizerConfig = model.cfg
    model_dir = model_folder(cfg.checkpoint)
    source = cfg.source or qcfg.source
    coll = load_pose_source(source, test_videos=cfg.test_videos or qcfg.test_videos or None)
    first = coll.first
    if first.n_animals * 2 * first.n_parts != qcfg.n_features:
        raise ValueError(f"source {source!r} has {first.n_animals} animals x {first.n_parts} parts, the quantizer "
                         f"was trained on {qcfg.n_animals} x {qcfg.n_parts}")
    meta = {"quantizer_config": qcfg.to_dict(), "checkpoint": str(cfg.checkpoint),
            "checkpoint_sha256": file_sha256(model_dir / MODEL_FILE),
            "groups": qcfg.groups, "codewords": qcfg.codewords, "vocab": coll.vocab, "fps": coll.fps,
            "stride": cfg.stride, "source": source, "with_z_q": cfg.with_z_q}
    final = Path(cfg.output_dir)
    tmp = _atomic_dir(final, cfg.overwrite)
    try:
        features = _features(qcfg.groups, qcfg.latent_dim, cfg.with_z_q)
        splits = {}
        total = sum(r.n_frames for r in coll.records)
        bar = tqdm(total=total, unit="frame", desc="export", disable=not progress)
        for split, records in coll.splits.items():
            rows = {k: [] for k in features}
            for rec in records:
                enc = encode_record(model, pipeline, rec, stride=cfg.stride, batch_size=cfg.batch_size, device=device)
                rows["video_id"].append(rec.video_id)
                rows["annotator"].append(rec.annotator)
                rows["fps"].append(rec.fps)
                rows["n_frames"].append(rec.n_frames)
                rows["codes"].append(enc.codes)
                rows["labels"].append(rec.labels.astype(np.int16))
                if cfg.with_z_q:
                    rows["z_q"].append(enc.z_q)
                bar.update(rec.n_frames)
            info = DatasetInfo(description=json.dumps(meta, sort_keys=True), features=features, license=cfg.license)
            ds = Dataset.from_dict(rows, info=info, split=split)
            # A fingerprint from the content, so a second export of the same checkpoint is byte-identical.
            fp = hashlib.sha256((meta["checkpoint_sha256"] + split + str(cfg.stride) + source).encode()).hexdigest()[:16]
            splits[split] = Dataset(ds.data, info=ds.info, split=ds.split, fingerprint=fp)
        bar.close()
        dd = DatasetDict(splits)
        dd.save_to_disk(str(tmp / "dataset"))
        (tmp / "data").mkdir()
        for split, ds in dd.items():
            ds.to_parquet(str(tmp / "data" / f"{split}-00000-of-00001.parquet"))
        (tmp / "export.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        counts = {s: (len(ds), int(sum(ds["n_frames"]))) for s, ds in dd.items()}
        (tmp / "README.md").write_text(_card(meta, counts, cfg.license))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if cfg.push_to_hub:
        push_export(final, cfg.push_to_hub, private=cfg.private)
    return dd


def push_export(folder: str | Path, repo_id: str, private: bool = False, token: str | None = None) -> None:
    """Push an export (DatasetDict, card, export.json, tokenizer/) to the Hub; a failure leaves it as it is."""
    from datasets import load_from_disk
    from huggingface_hub import HfApi
    folder = Path(folder)
    try:
        load_from_disk(str(folder / "dataset")).push_to_hub(repo_id, private=private, token=token)
        api = HfApi(token=token)
        for name in ("README.md", "export.json"):  # the card, and what lm.load_token_export reads
            api.upload_file(path_or_fileobj=str(folder / name), path_in_repo=name, repo_id=repo_id,
                            repo_type="dataset")
        if (folder / "tokenizer").is_dir():
            api.upload_folder(folder_path=str(folder / "tokenizer"), path_in_repo="tokenizer", repo_id=repo_id,
                              repo_type="dataset")
    except Exception as e:  # network, auth and offline errors come from several libraries
        raise RuntimeError(f"push to the Hub as {repo_id!r} failed ({type(e).__name__}: {e}); "
                           f"the local export in {folder} is intact") from e
