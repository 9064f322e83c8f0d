"""Encode every frame of every video into codewords and export a ``datasets.DatasetDict``.

Each frame gets the codes of the window centred on it (edges padded by repeating the first and
last frame); with ``stride`` s > 1 only every s-th frame is encoded and its codes cover the s
frames from it. The videos are split as the training run split them. Output folder::

    dataset/            DatasetDict.save_to_disk (load_from_disk)
    data/SPLIT-*.parquet  the same rows (load_dataset("parquet", ...)), what the Hub serves
    README.md           dataset card (YAML header)
    export.json         quantizer config, checkpoint sha256, G, V, vocabulary, export settings, and what
                        was written (videos and frames per split, sha256 of every dataset file), so a
                        damaged or edited export is refused when it is read

Rows are videos: ``video_id``, ``annotator``, ``fps``, ``n_frames``, ``codes`` (T x G int16; with a
coarse level T x (1 + G), coarse first), ``labels`` (T int16, -1 unlabeled), ``syllables`` (T int16,
the syllable level, when fitted) and optionally ``z_q`` (T x D float32). The export is written
into a temporary sibling folder and swapped in at the end, after ``finish`` (e.g. building the
tokenizer) has run in it, so a failure leaves an earlier export as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from behavior_tokens.core.config import Config, option
from behavior_tokens.core.errors import ConfigError
from behavior_tokens.core.files import file_sha256, staged_output, write_json_atomic, write_manifest
from behavior_tokens.core.layout import (
    DATASET_DIR,
    EXPORT_META,
    MANIFEST_FILE,
    MODEL_DIR,
    MODEL_FILE,
    PARQUET_DIR,
    RunLayout,
)
from behavior_tokens.data import PoseFormatName, PosePipeline, PoseRecord
from behavior_tokens.data.features import behavior_context
from behavior_tokens.data.relational import relational_features, signed_log

from .config import QuantizerConfig
from .data import run_collection
from .models import BehaviorQuantizer
from .saving import load_quantizer, model_folder, run_root
from .syllable_guide import GUIDES
from .syllables import SYLLABLE_DIR, SyllableConfig, SyllableModel, block_weights

EXPORT_KIND = "token export"
SCRATCH_DIR = "scratch"  # per-video codes while an export runs, inside its staged folder (gone before it is swapped in)


@dataclass
class ExportConfig(Config):
    checkpoint: str = option(help="a training run folder (or its model/ folder)")
    output_dir: str = option("", help="where the export goes (default: the run's tokens/)")
    source: str = option("", help="pose source; default: the one the quantizer was trained on, split as it was")
    pose_format: PoseFormatName = option("auto", help="format of --source's pose files")
    fps: float = option(0.0, ge=0, help="frame rate of --source's files if they do not state it")
    test_videos: list[str] = option(default_factory=list, help="held-out videos of --source (default: the run's)")
    stride: int = option(1, ge=1, help="encode every s-th frame (1 = one token per frame)")
    batch_size: int = option(1024, ge=1)
    with_z_q: bool = option(False, help="also store the frame-aligned quantized latents")
    code_switch_cost: float = option(0.0, ge=0, help="persistence over codes: Viterbi per group with this penalty "
                                     "per change of codeword (0: nearest codeword)")
    syllables: bool = option(True, help="fit the syllable level (see the syllable flags) and export it")
    license: str = option("other", help="license field of the dataset card")
    push_to_hub: str = option("", help="REPO_ID to push the DatasetDict to")
    private: bool = False
    overwrite: bool = option(False, help="replace an export in output_dir (only one this project made)")


@dataclass
class FrameCodes:
    """Per-frame outputs of the quantizer for one video (frame t: the window centred on t)."""

    codes: np.ndarray  # (T, G) int16
    z_e: np.ndarray | None  # (T, D) float32, before quantization (None once an export has stored the codes)
    z_q: np.ndarray  # (T, D) float32, the codewords
    axis: tuple[str, str, str] = ("", "", "")  # (anchor, from, to): the body axis the quantizer's pipeline aligns on


def encode_record(model: BehaviorQuantizer, pipeline: PosePipeline, record: PoseRecord, *, stride: int = 1,
                  batch_size: int = 1024, device: str | torch.device = "cpu") -> FrameCodes:
    """Codes and latents of every frame of one video (with stride s, frame t gets frame s*(t//s)'s)."""
    feats, _ = pipeline.forward(record)  # (T, F)
    z_e, z_q, codes = model.encode_frames(feats, stride, batch_size, device)  # each (ceil(T/s), .)

    def per_frame(x: torch.Tensor, dtype) -> np.ndarray:
        return np.repeat(x.float().cpu().numpy().astype(dtype), stride, axis=0)[:record.n_frames]

    return FrameCodes(per_frame(codes, np.int16), per_frame(z_e, np.float32), per_frame(z_q, np.float32),
                      (pipeline.anchor, pipeline.axis_from, pipeline.axis_to))


def _features(code_columns: int, D: int, with_z_q: bool, with_syllables: bool):
    from datasets import Features, List, Value
    cols = {"video_id": Value("string"), "annotator": Value("string"), "fps": Value("float32"),
            "n_frames": Value("int32"), "codes": List(List(Value("int16"), length=code_columns)),
            "labels": List(Value("int16"))}
    if with_syllables:
        cols["syllables"] = List(Value("int16"))
    if with_z_q:
        cols["z_q"] = List(List(Value("float32"), length=D))
    return Features(cols)


def _card(meta: dict, license: str) -> str:
    cfg = meta["quantizer_config"]
    splits = meta["splits"]
    yaml_splits = "\n".join(f"  - split: {s}\n    path: data/{s}-*.parquet" for s in splits)
    rows = "\n".join(f"| {s} | {v['videos']} | {v['frames']} |" for s, v in splits.items())
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


def dataset_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file of a saved DatasetDict, by path relative to it."""
    return {str(p.relative_to(folder)): file_sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def _split_dataset(records: list[PoseRecord], encoded: list[FrameCodes], syllables: list[np.ndarray] | None,
                   split: str, features, meta: dict, folder: Path):
    """One split's rows written one video at a time to an Arrow file in ``folder`` (memory-mapped once written)."""
    from datasets import Dataset, DatasetInfo
    from datasets.arrow_writer import ArrowWriter
    info = DatasetInfo(description=json.dumps({k: v for k, v in meta.items() if k != "splits"}, sort_keys=True),
                       features=features, license=meta["license"])
    path = folder / f"{split}.arrow"
    with ArrowWriter(features=features, path=str(path), writer_batch_size=1) as writer:
        for i, (rec, enc) in enumerate(zip(records, encoded, strict=True)):
            row = {"video_id": rec.video_id, "annotator": rec.annotator, "fps": rec.fps, "n_frames": rec.n_frames,
                   "codes": np.asarray(enc.codes), "labels": rec.labels.astype(np.int16)}
            if "syllables" in features:
                row["syllables"] = syllables[i].astype(np.int16)
            if "z_q" in features:
                row["z_q"] = np.asarray(enc.z_q)
            writer.write(row)
        writer.finalize()
    ds = Dataset.from_file(str(path), info=info, split=split)
    # A fingerprint from the content, so a second export of the same checkpoint is byte-identical.
    fp = hashlib.sha256((meta["checkpoint_sha256"] + split + str(meta["stride"]) + meta["source"]).encode())
    return Dataset(ds.data, info=ds.info, split=ds.split, fingerprint=fp.hexdigest()[:16])


class StoredCodes(FrameCodes):
    """One video's per-frame codes and z_q as an export stores them while it runs (in its scratch folder, written
    by whichever process encoded the video): read, memory-mapped, when asked."""

    def __init__(self, folder: Path, axis: tuple[str, str, str]):
        self.folder, self.axis, self.z_e = folder, axis, None

    @staticmethod
    def write(folder: Path, enc: FrameCodes) -> None:
        folder.mkdir(parents=True)
        np.save(folder / "codes.npy", enc.codes)
        np.save(folder / "z_q.npy", enc.z_q)

    @property
    def codes(self) -> np.ndarray:
        return np.load(self.folder / "codes.npy", mmap_mode="r")

    @property
    def z_q(self) -> np.ndarray:
        return np.load(self.folder / "z_q.npy", mmap_mode="r")


def _shares(coll, state) -> list[tuple[str, int, PoseRecord]]:
    """This process's videos: every ``num_processes``-th of the export's (split, index, record) list."""
    items = [(split, i, rec) for split, recs in coll.splits.items() for i, rec in enumerate(recs)]
    return items[state.process_index::state.num_processes]


def _encode_all(model, pipeline, coll, cfg: ExportConfig, device, progress: bool, scratch: Path, state
                ) -> dict[str, list[FrameCodes]]:
    """Every video's per-frame codes and z_q (codes made persistent if asked), each process encoding its share
    into ``scratch``; returned as StoredCodes, read when used."""
    mine = _shares(coll, state)
    bar = tqdm(total=sum(r.n_frames for _, _, r in mine), unit="frame", desc="export",
               disable=not progress or not state.is_main_process)
    for split, i, rec in mine:
        enc = encode_record(model, pipeline, rec, stride=cfg.stride, batch_size=cfg.batch_size, device=device)
        if cfg.code_switch_cost > 0:
            enc.codes = model.quantizer.sticky_codes(torch.from_numpy(enc.z_e), cfg.code_switch_cost
                                                     ).numpy().astype(np.int16)
            enc.z_q = model.lookup(torch.from_numpy(enc.codes.astype(np.int64))).numpy()
        StoredCodes.write(scratch / split / str(i), enc)
        bar.update(rec.n_frames)
    bar.close()
    state.wait_for_everyone()
    axis = (pipeline.anchor, pipeline.axis_from, pipeline.axis_to)
    return {split: [StoredCodes(scratch / split / str(i), axis) for i in range(len(recs))]
            for split, recs in coll.splits.items()}


def syllable_features(encoded: list[FrameCodes], records: list[PoseRecord], syl: SyllableConfig) -> list[np.ndarray]:
    """What the syllable level clusters, per video: z_q, relational features (compressed by a signed log,
    data.relational.signed_log), or both (see SyllableConfig)."""
    feats = []
    for enc, rec in zip(encoded, records, strict=True):
        parts = [enc.z_q] if "z_q" in syl.features else []
        if "relational" in syl.features:
            parts.append(signed_log(relational_features(rec.keypoints, rec.bodyparts, 0, *enc.axis)))
        feats.append(np.concatenate(parts, axis=1))
    return feats


def syllable_contexts(records: list[PoseRecord], syl: SyllableConfig) -> list[np.ndarray | None]:
    """Each video's social context (T, Dg) where the syllables are guided by labels, else Nones."""
    if not GUIDES.lookup(syl.guide).needs_labels:
        return [None] * len(records)
    return [behavior_context(rec) for rec in records]


def syllable_units(model: SyllableModel, encoded: list[FrameCodes], records: list[PoseRecord]) -> list[np.ndarray]:
    """Each video's syllables (T,) under a fitted syllable level, its features made one video at a time."""
    return [model.assign(syllable_features([enc], [rec], model.cfg)[0], context=syllable_contexts([rec], model.cfg)[0])
            for enc, rec in zip(encoded, records, strict=True)]


class _VideoFeatures(Sequence):
    """The syllable features of each video, made when indexed (so a fit holds one video's at a time)."""

    def __init__(self, encoded: list[FrameCodes], records: list[PoseRecord], syl: SyllableConfig):
        self.encoded, self.records, self.syl = encoded, records, syl

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> np.ndarray:
        return syllable_features([self.encoded[i]], [self.records[i]], self.syl)[0]


def fit_syllable_model(encoded: list[FrameCodes], records: list[PoseRecord], fps: float, syl: SyllableConfig,
                       latent_dim: int) -> SyllableModel:
    """The syllable level fitted on the training videos (and their labels, when guided)."""
    feats = _VideoFeatures(encoded, records, syl)
    width = syllable_features([encoded[0]], [records[0]], syl)[0].shape[1]
    return SyllableModel.fit(feats, fps, syl, block_weights(syl, latent_dim, width), [rec.labels for rec in records],
                             syllable_contexts(records, syl), lengths=[rec.n_frames for rec in records])


def fit_syllables(encoded: dict[str, list[FrameCodes]], coll, syl: SyllableConfig, latent_dim: int
                  ) -> tuple[SyllableModel, dict[str, list[np.ndarray]]]:
    """The syllable level fitted on the training videos (and their labels, when guided), and every video's
    syllables."""
    model = fit_syllable_model(encoded["train"], coll["train"], coll.fps, syl, latent_dim)
    return model, {s: syllable_units(model, encoded[s], coll[s]) for s in encoded}


def _shared_syllables(encoded: dict[str, list[FrameCodes]], coll, syl: SyllableConfig, latent_dim: int,
                      scratch: Path, state) -> tuple[SyllableModel, dict[str, list[np.ndarray]]]:
    """fit_syllables across processes: the main process fits the level, each process assigns its videos."""
    if state.is_main_process:
        fit_syllable_model(encoded["train"], coll["train"], coll.fps, syl, latent_dim).save(scratch / SYLLABLE_DIR)
    state.wait_for_everyone()
    model = SyllableModel.load(scratch / SYLLABLE_DIR)
    for split, i, rec in _shares(coll, state):
        units = syllable_units(model, [encoded[split][i]], [rec])[0]
        np.save(scratch / split / str(i) / "syllables.npy", units.astype(np.int16))
    state.wait_for_everyone()
    return model, {split: [np.load(scratch / split / str(i) / "syllables.npy", mmap_mode="r") for i in range(len(recs))]
                   for split, recs in coll.splits.items()}


def export_tokens(cfg: ExportConfig, device: str | torch.device | None = None, progress: bool = True,
                  finish: Callable[[Path], dict] | None = None, syllables: SyllableConfig | None = None):
    """Run the export; returns the DatasetDict (also written to ``cfg.output_dir``).

    With ``syllables`` the syllable level is fitted on the training videos and each video gets a
    frame-aligned ``syllables`` column; the model is saved in ``syllables/``. ``finish(folder)`` runs in
    the staged folder before it is swapped in (the export script builds the tokenizer there); what it
    returns is recorded in export.json under ``finish``.

    Memory does not grow with the frames: each video's codes and z_q go to a scratch folder as they are made and
    are read back one video at a time. Under ``accelerate launch --num_processes N`` the videos are shared between
    the processes (each on its own device; ``device`` default: accelerate's), which write the same export as one
    process; the main process fits the syllables and writes the files, on other processes the call returns None.
    """
    from accelerate import PartialState
    from accelerate.utils import broadcast_object_list, parse_flag_from_env
    from datasets import DatasetDict, load_from_disk

    cfg.validate()
    if syllables is not None:
        syllables.validate()
    state = PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU"))  # as accelerate's Accelerator reads it
    if device is None:  # "cpu:0", as accelerate names a CPU process's device, is not a device safetensors loads to
        device = "cpu" if state.device.type == "cpu" else state.device
    model_dir = model_folder(cfg.checkpoint)
    cfg.output_dir = cfg.output_dir or str(RunLayout(run_root(cfg.checkpoint)).tokens)
    reads = {"--checkpoint": model_dir, "the checkpoints of --checkpoint": model_dir.parent / "checkpoints"
             if model_dir.name == MODEL_DIR else None}
    if cfg.source and Path(cfg.source).exists():
        reads["--source"] = Path(cfg.source)
    staged = staged_output(cfg.output_dir, EXPORT_KIND, overwrite=cfg.overwrite, reads=reads) \
        if state.is_main_process else contextlib.nullcontext()
    with staged as tmp:
        scratch = Path(tmp / SCRATCH_DIR) if tmp is not None else None
        if state.num_processes > 1:  # every process writes its videos into the main process's scratch folder
            scratch = Path(broadcast_object_list([str(scratch) if scratch else ""], from_process=0)[0])
        model, pipeline = load_quantizer(cfg.checkpoint, device=device)
        qcfg: QuantizerConfig = model.cfg
        coll = _checked_collection(cfg, qcfg, syllables)
        encoded = _encode_all(model, pipeline, coll, cfg, device, progress, scratch, state)
        units = None
        if syllables is not None:
            syl_model, units = _shared_syllables(encoded, coll, syllables, qcfg.latent_dim, scratch, state)
        if not state.is_main_process:
            return None
        meta = {"quantizer_config": qcfg.to_dict(), "checkpoint": str(cfg.checkpoint),
                "checkpoint_sha256": file_sha256(model_dir / MODEL_FILE), "groups": qcfg.code_columns,
                "codewords": max(qcfg.codewords, qcfg.coarse_codewords), "vocab": coll.vocab, "fps": coll.fps,
                "stride": cfg.stride, "code_switch_cost": cfg.code_switch_cost,
                "source": cfg.source or qcfg.source, "with_z_q": cfg.with_z_q, "license": cfg.license}
        if syllables is not None:
            syl_model.save(tmp / SYLLABLE_DIR)
            meta["syllables"] = {"units": syl_model.units, "switch_cost": syl_model.switch_cost,
                                 "config": syllables.to_dict()}
        features = _features(qcfg.code_columns, qcfg.latent_dim, cfg.with_z_q, syllables is not None)
        _write_data(tmp, DatasetDict({split: _split_dataset(recs, encoded[split], None if units is None else
                                                            units[split], split, features, meta, scratch)
                                      for split, recs in coll.splits.items()}))
        meta["splits"] = {s: {"videos": len(recs), "frames": sum(r.n_frames for r in recs)}
                          for s, recs in coll.splits.items()}
        shutil.rmtree(scratch)
        _write_meta(tmp, meta, cfg.license, finish)
    if cfg.push_to_hub:
        push_export(cfg.output_dir, cfg.push_to_hub, private=cfg.private)
    return load_from_disk(str(Path(cfg.output_dir) / DATASET_DIR))


def _checked_collection(cfg: ExportConfig, qcfg: QuantizerConfig, syllables: SyllableConfig | None):
    """The videos to export, split as the quantizer's run split them (or as ``cfg`` says), checked against what
    the quantizer and the syllable level need."""
    if cfg.code_switch_cost > 0 and qcfg.coarse_codewords:
        raise ConfigError("--code_switch_cost", "persistent codes are made per group, without a coarse level",
                          "leave --code_switch_cost at 0 for a quantizer with --coarse_codewords")
    coll, _ = run_collection(qcfg, cfg.source, cfg.test_videos or None, fps=cfg.fps, pose_format=cfg.pose_format)
    first = coll.first
    if (first.n_animals, first.n_parts) != (qcfg.n_animals, qcfg.n_parts):
        raise ConfigError("--source", f"{cfg.source or qcfg.source} has {first.n_animals} animals x "
                          f"{first.n_parts} parts, the quantizer was trained on {qcfg.n_animals} x {qcfg.n_parts}",
                          "export videos of the skeleton the quantizer knows")
    if syllables is not None and "train" not in coll.splits:
        raise ConfigError("--syllables", "the syllable level is fitted on training videos; the source has none",
                          "export the run's own source, or pass --syllables false")
    return coll


def _write_data(folder: Path, dd) -> None:
    """``dataset/`` and ``data/*.parquet`` into the staged folder."""
    dd.save_to_disk(str(folder / DATASET_DIR))
    (folder / PARQUET_DIR).mkdir()
    for split, ds in dd.items():
        ds.to_parquet(str(folder / PARQUET_DIR / f"{split}-00000-of-00001.parquet"))


def _write_meta(folder: Path, meta: dict, license: str, finish: Callable[[Path], dict] | None) -> None:
    """The dataset card and ``export.json`` (with the sha256 of every dataset file and what ``finish`` returned)
    into the staged folder, and its manifest."""
    meta["dataset_sha256"] = dataset_hashes(folder / DATASET_DIR)
    meta["manifest"] = MANIFEST_FILE  # every file of the export, export.json included, vouched for by its sha256
    (folder / "README.md").write_text(_card(meta, license))
    write_json_atomic(folder / EXPORT_META, meta)
    if finish is not None:
        write_json_atomic(folder / EXPORT_META, {**meta, "finish": finish(folder)})
    write_manifest(folder)


def push_export(folder: str | Path, repo_id: str, private: bool = False, token: str | None = None) -> None:
    """Push an export (DatasetDict, card, export.json, tokenizer/) to the Hub; a failure leaves it as it is."""
    from datasets import load_from_disk
    from huggingface_hub import HfApi
    folder = Path(folder)
    try:
        load_from_disk(str(folder / DATASET_DIR)).push_to_hub(repo_id, private=private, token=token)
        api = HfApi(token=token)
        for name in ("README.md", EXPORT_META):  # the card, and what lm.load_token_export reads
            api.upload_file(path_or_fileobj=str(folder / name), path_in_repo=name, repo_id=repo_id,
                            repo_type="dataset")
        if (folder / "tokenizer").is_dir():
            api.upload_folder(folder_path=str(folder / "tokenizer"), path_in_repo="tokenizer", repo_id=repo_id,
                              repo_type="dataset")
    except Exception as e:  # network, auth and offline errors come from several libraries
        raise RuntimeError(f"--push_to_hub: push as {repo_id!r} failed ({type(e).__name__}: {e}) "
                           f"(the local export in {folder} is intact; check the network and your token)") from e
