"""Generate behavior: GPT tokens -> codewords -> the stage-one decoder -> keypoints, saved, drawn and checked.

A sample continues the first ``prompt_seconds`` of a held-out video (or starts from nothing) for ``seconds`` of
behavior, drawn with a logit bias that keeps the training videos' time on each token (``lm.sampling.
calibrate_bias``; ``calibrate_rounds 0``: none). Prompt frames keep their real codes and labels. Sampled
syllables are shown as real training instances of them (``generation.instances``); other schemes' codes are
decoded as they are. Decoded keypoints are egocentric (quantize.decode): the resident is held at the dataset's
mean position, body axis up. Each sample is written as a record folder (``data.load_records``), its tokens and
codes (``.npz``), a strip of frames above an ethogram (``.png``) and a ``.gif``; ``generation_eval.json`` holds
the checks (``generation.checks``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from behavior_tokens.core.config import Config, option
from behavior_tokens.core.errors import ConfigError
from behavior_tokens.core.files import staged_output, write_json_atomic
from behavior_tokens.core.layout import RunLayout
from behavior_tokens.core.runs import unseen_transitions
from behavior_tokens.core.subsets import videos_within
from behavior_tokens.data import MISSING_LABEL, PoseCollection, PoseRecord, save_records
from behavior_tokens.data.plots import animate, plot_sample
from behavior_tokens.lm import BehaviorTokenizer, LMConfig, TokenExport, load_lm, load_token_export
from behavior_tokens.lm.data import held_out_split
from behavior_tokens.lm.sampling import calibrate_bias, seen_steps
from behavior_tokens.lm.saving import check_trained_on
from behavior_tokens.quantize import load_quantizer
from behavior_tokens.quantize.data import run_collection
from behavior_tokens.quantize.decode import decode_features, decode_record, features_record
from behavior_tokens.quantize.saving import run_root

from .checks import evaluate_generation, fit_decoder_smoothing
from .codes import RunLengths, sample_code_batch
from .instances import SyllableInstances
from .joins import BodyMove

SAMPLES_KIND = "generated samples"
MAX_SAMPLE_SECONDS = 3600.0  # a sample's frames are held in memory while it is rendered
MAX_TOTAL_HOURS = 50.0  # behavior drawn in all (samples checked x seconds): 512 one-minute samples are 8.5 hours
SAMPLE_BATCH = 32  # samples drawn together (one forward pass per token for all of them)
CALIBRATION_BATCH = 128  # samples drawn together in each calibration round


@dataclass
class GenerateConfig(Config):
    lm: str = option(help="a train_lm run folder (or its model/ folder)")
    output_dir: str = option("", help="where samples go (default: the stage-one run's samples/)")
    prompt_video: str = option("", help="held-out video to prompt with; default: the first")
    prompt_seconds: float = option(2.0, ge=0, help="seconds of real behavior before sampling (0: none)")
    seconds: float = option(10.0, gt=0, le=MAX_SAMPLE_SECONDS, help="seconds of behavior to sample (at most an hour: "
                            "the renderer holds a sample's frames in memory)")
    samples: int = option(2, ge=1, help="samples written (keypoints, plot, GIF)")
    eval_samples: int = option(128, ge=0, le=4096, help="samples the checks are made on (the written ones first, then more "
                               "drawn the same way and not written): a behavior that comes in a few long bouts needs "
                               "an hour or more of samples to be measured within 20 %%, the main job reads 512 (0: the "
                               "written ones only)")
    temperature: float = option(1.0, gt=0)
    top_k: int = option(0, ge=0, help="sample among the k most likely tokens (0: all)")
    top_p: float = option(1.0, gt=0, le=1, help="sample among the fewest most likely tokens whose probabilities sum "
                          "to this (nucleus sampling; 1: all)")
    calibrate_rounds: int = option(10, ge=0, help="rounds of fitting a per-token logit bias so that free-running "
                                   "samples keep the training videos' time on each token (lm/sampling.py; a GPT "
                                   "sampling from itself drifts away from rare behavior). 0: sample the GPT as trained")
    seen_transitions: bool = option(True, help="syllables: a syllable may only follow one that some training video "
                                    "has it follow (transitions the renderer can show as a video shows them; false: "
                                    "any, as the GPT gives them). Frame-level schemes are sampled as the GPT gives them")
    max_reference_frames: int = option(500_000, ge=1, help="frames of the training videos, and of the held-out ones, "
                                       "that the renderer draws instances from and the checks compare with (whole "
                                       "videos, a seeded sample of them where there are more; the prompt video "
                                       "always)")
    seed: int = option(0, ge=0)
    gif: bool = True
    evaluate: bool = option(True, help="compare the samples with held-out videos (generation/checks.py): "
                            "intruder speed, behavior frequencies, real-vs-generated AUC")
    overwrite: bool = option(False, help="replace samples in output_dir (only ones this project made)")


@dataclass
class Prompt:
    """The start of a held-out video that every sample continues."""

    split: str
    video: str
    index: int  # of the video in its split
    codes: np.ndarray  # (frames, G)
    units: np.ndarray  # (frames, columns) what the tokenizer reads
    labels: np.ndarray  # (frames,)

    @property
    def frames(self) -> int:
        return len(self.codes)


@dataclass
class Stage:
    """What the steps of a generation share: the GPT, its tokens, the quantizer and the decoded training videos."""

    cfg: GenerateConfig
    model: torch.nn.Module
    tok: BehaviorTokenizer
    lm_cfg: LMConfig
    quantizer: torch.nn.Module
    pipeline: object
    export: TokenExport
    out: Path

    @property
    def n_frames(self) -> int:
        return int(round(self.cfg.seconds * self.export.fps))


def generate_behavior(cfg: GenerateConfig) -> list[PoseRecord]:
    """Write ``cfg.samples`` generated videos into ``cfg.output_dir`` (and the checks); returns their records."""
    cfg.validate()
    hours = max(cfg.samples, cfg.eval_samples if cfg.evaluate else 0) * cfg.seconds / 3600
    if hours > MAX_TOTAL_HOURS:  # refused up front: it would run for hours and hold every sample's frames
        raise ConfigError("--seconds", f"{hours:.1f} hours of behavior asked for in all (samples x seconds), more than "
                          f"{MAX_TOTAL_HOURS:g}", "draw fewer or shorter samples (--eval_samples, --seconds)")
    model, tok, lm_cfg, _ = load_lm(cfg.lm)
    # the export the GPT was trained on and the quantizer its tokens were made with, both unchanged since
    export = load_token_export(lm_cfg.tokens)
    check_trained_on(lm_cfg, export, cfg.lm)
    quantizer, pipeline = load_quantizer(export.meta["checkpoint"], expect_sha256=export.meta["checkpoint_sha256"])
    out_dir = Path(cfg.output_dir) if cfg.output_dir else RunLayout(run_root(export.meta["checkpoint"])).samples
    with staged_output(out_dir, SAMPLES_KIND, overwrite=cfg.overwrite) as out:
        return _generate(Stage(cfg, model, tok, lm_cfg, quantizer, pipeline, export, out))


def _generate(st: Stage) -> list[PoseRecord]:
    prompt = _within_budget(st, _prompt(st))
    decoded, by_video = _decoded_videos(st)
    render = _renderer(st, decoded["train"])
    train_ids, tokens_per_frame, run_lengths = _training_tokens(st)
    coll, held_split = run_collection(st.quantizer.cfg)
    kept = {v for ds in st.export.dataset.values() for v in ds["video_id"]}
    coll = PoseCollection({s: [r for r in recs if r.video_id in kept] for s, recs in coll.splits.items()})
    smooth_frames, ratios = fit_decoder_smoothing(coll["train"], st.quantizer, st.pipeline, features=by_video)
    write_json_atomic(st.out / "generate_config.json", {**asdict(st.cfg), "decoder_smooth_frames": smooth_frames,
                                                        "decoded_speed_ratio_by_smoothing": ratios})
    follows = seen_steps(st.tok, train_ids) if st.cfg.seen_transitions and render is not None else None
    bias = _calibrate(st, prompt, train_ids, tokens_per_frame, follows)
    drawn = _draw(st, prompt, tokens_per_frame, run_lengths, bias, follows)
    records, sampled_units = [], []
    for i, (units, ids) in enumerate(tqdm(drawn, desc="rendering", unit="sample", leave=False)):
        codes, feats = (units, None) if render is None else render(units[:, 0], np.random.default_rng(st.cfg.seed + i))
        name, prompt_feats = f"sample_{i:03d}", decoded[prompt.split][prompt.index][:prompt.frames]
        records.append(_decode_sample(st, prompt, name, codes, feats, prompt_feats, smooth_frames))
        sampled_units.append(units[:, 0])
        if i < st.cfg.samples:  # the rest are drawn for the checks only
            _write_sample(st, prompt, name, records[-1], codes, units, ids, syllables=render is not None)
    if st.cfg.evaluate:
        sampled = [replace(r, keypoints=r.keypoints[prompt.frames:], scores=r.scores[prompt.frames:],
                           labels=r.labels[prompt.frames:]) for r in records]  # the generated part of each sample
        _evaluate(st, sampled, sampled_units, coll, held_split, prompt.split, render, by_video, smooth_frames)
    return records[:st.cfg.samples]


def _prompt(st: Stage) -> Prompt:
    """The first ``prompt_seconds`` of the prompt video (the held-out split's first unless named)."""
    held = held_out_split(st.export, st.lm_cfg.eval_split)
    rows = st.export.dataset[held]
    names = list(rows["video_id"])
    if st.cfg.prompt_video and st.cfg.prompt_video not in names:
        raise ConfigError("--prompt_video", f"no video {st.cfg.prompt_video!r} in the {held} split",
                          f"choose one of {', '.join(names)}")
    pick = names.index(st.cfg.prompt_video) if st.cfg.prompt_video else 0
    n = int(round(st.cfg.prompt_seconds * st.export.fps))
    row = rows[pick]
    if n > row["n_frames"]:
        raise ConfigError("--prompt_seconds", f"{st.cfg.prompt_seconds:g} s is longer than the prompt video "
                          f"{names[pick]} ({row['n_frames'] / st.export.fps:g} s)",
                          "give a shorter prompt, or name a longer video with --prompt_video")
    units = np.asarray(row[st.tok.scheme.column], dtype=np.int64).reshape(len(row["labels"]), -1)
    return Prompt(held, names[pick], pick, np.asarray(row["codes"], dtype=np.int64)[:n], units[:n],
                  np.asarray(row["labels"], dtype=np.int64)[:n])


def _within_budget(st: Stage, prompt: Prompt) -> Prompt:
    """Keep, of each split of ``st.export``, the videos the stage reads (``max_reference_frames``, the prompt video
    among them); returns the prompt, indexed among them."""
    from datasets import DatasetDict
    subsets = {}
    for split, ds in st.export.dataset.items():
        keep = videos_within(list(ds["n_frames"]), st.cfg.max_reference_frames, st.cfg.seed)
        if split == prompt.split:
            keep = sorted(set(keep) | {prompt.index})
            prompt = replace(prompt, index=keep.index(prompt.index))
        subsets[split] = ds if len(keep) == len(ds) else ds.select(keep)
    st.export = replace(st.export, dataset=DatasetDict(subsets))
    return prompt


def _decoded_videos(st: Stage) -> tuple[dict[str, list[np.ndarray]], dict[str, np.ndarray] | None]:
    """Every exported video decoded once ({split: features of each}): instances join on these features, and (for
    an export of the quantizer's own videos at stride 1, ``{video_id: features}``) they are also the
    reconstructed reference of the checks and what the decoder's smoothing is fitted on."""
    export = st.export
    decoded = {s: [decode_features(st.quantizer, c) for c in export.video_codes(s, "codes")] for s in export.dataset}
    own = export.meta.get("stride", 1) == 1 and export.meta.get("source") == st.quantizer.cfg.source
    by_video = {v: f for s in export.dataset for v, f in zip(export.dataset[s]["video_id"], decoded[s], strict=True)}
    return decoded, by_video if own else None


def _renderer(st: Stage, train_features: list[np.ndarray]) -> SyllableInstances | None:
    """Sampled syllables shown as real training instances (a syllable stands for many code sequences); None for
    the frame-level schemes, whose codes are decoded as sampled."""
    if st.tok.scheme.column != "syllables":
        return None
    qcfg = st.quantizer.cfg
    move = BodyMove(qcfg.n_animals, qcfg.n_parts, st.pipeline.heading_parts(qcfg.bodyparts))
    return SyllableInstances(st.export, frame_features=train_features, move=move)


def _training_tokens(st: Stage) -> tuple[list[np.ndarray], float, RunLengths | None]:
    """The training videos tokenized once: their ids, the token rate that sizes each sampling round, and the run
    lengths that give ``rle`` tokens their durations."""
    encoded, frames = [], 0
    for codes in (c for s in st.lm_cfg.train_splits if s in st.export.dataset for c in st.export.video_codes(s)):
        encoded.append(st.tok.encode(codes))
        frames += len(codes)
    tokens_per_frame = sum(len(ids) for ids, _ in encoded) / max(1, frames)
    run_lengths = None if st.tok.scheme.fixes_durations else RunLengths(encoded)
    return [ids for ids, _ in encoded], tokens_per_frame, run_lengths


def _calibrate(st: Stage, prompt: Prompt, train_ids: list[np.ndarray], tokens_per_frame: float,
               follows: torch.Tensor | None) -> torch.Tensor | None:
    """The logit bias the samples are drawn with (None without calibration), written to sampling_bias.json."""
    cfg, tok = st.cfg, st.tok
    if not cfg.calibrate_rounds:
        return None
    prompt_ids = tok.encode(prompt.units)[0] if prompt.frames else np.zeros(0, dtype=np.int64)
    n_new = tok.scheme.period * math.ceil(st.n_frames * tokens_per_frame / tok.scheme.period)
    bias, distance = calibrate_bias(st.model, tok, prompt_ids, train_ids, n_new, rounds=cfg.calibrate_rounds,
                                    batch=CALIBRATION_BATCH, temperature=cfg.temperature, top_k=cfg.top_k,
                                    top_p=cfg.top_p, follows=follows,
                                    generator=torch.Generator().manual_seed(cfg.seed + 10**6))
    write_json_atomic(st.out / "sampling_bias.json", {
        "token_share_distance_by_round": [round(d, 4) for d in distance],
        "bias": {tok.token(i): round(float(b), 4) for i, b in enumerate(bias.tolist()) if b}})
    return bias


def _draw(st: Stage, prompt: Prompt, tokens_per_frame: float, run_lengths: RunLengths | None,
          bias: torch.Tensor | None, follows: torch.Tensor | None) -> list[tuple[np.ndarray, np.ndarray]]:
    """(sampled units, sampled ids) of every sample: the written ones, then those drawn for the checks."""
    cfg = st.cfg
    n_samples = max(cfg.samples, cfg.eval_samples if cfg.evaluate else 0)
    return [x for first in tqdm(range(0, n_samples, SAMPLE_BATCH), desc=f"sampling {n_samples}", unit="batch",
                                leave=False)
            for x in sample_code_batch(st.model, st.tok, prompt.units, st.n_frames, min(SAMPLE_BATCH, n_samples - first),
                                       tokens_per_frame=tokens_per_frame, run_lengths=run_lengths,
                                       temperature=cfg.temperature, top_k=cfg.top_k, top_p=cfg.top_p,
                                       seed=cfg.seed + first, bias=bias, follows=follows)]


def _decode_sample(st: Stage, prompt: Prompt, name: str, codes: np.ndarray, feats: np.ndarray | None,
                   prompt_feats: np.ndarray, smooth_frames: int) -> PoseRecord:
    """The prompt and the sample as keypoints: rendered features as they are, other codes decoded."""
    all_codes = np.concatenate([prompt.codes, codes])
    labels = np.concatenate([prompt.labels, np.full(len(codes), MISSING_LABEL, dtype=np.int64)])
    title = f"{name} ({prompt.video} + {st.cfg.seconds:g} s)"
    if feats is None:
        return decode_record(st.quantizer, st.pipeline, all_codes, title, labels, smooth_frames)
    return features_record(st.quantizer, st.pipeline, np.concatenate([prompt_feats, feats]), title, labels,
                           smooth_frames)


def _write_sample(st: Stage, prompt: Prompt, name: str, rec: PoseRecord, codes: np.ndarray, units: np.ndarray,
                  ids: np.ndarray, syllables: bool) -> None:
    """The sample's record folder, codes and tokens (.npz), strip of frames above its ethogram, and GIF."""
    all_codes = np.concatenate([prompt.codes, codes])
    all_units = np.concatenate([prompt.units, units])
    save_records([rec], st.out / name)
    np.savez(st.out / f"{name}.npz", codes=all_codes, units=all_units, sampled_ids=ids, prompt_frames=prompt.frames)
    if syllables:  # the sampled syllables above the codes that render them
        plot_sample(rec, st.out / f"{name}.png", codes=np.concatenate([all_units, all_codes], 1),
                    prompt_frames=prompt.frames,
                    code_names=["syllable", *(f"group {g}" for g in range(all_codes.shape[1]))])
    else:
        plot_sample(rec, st.out / f"{name}.png", codes=all_codes, prompt_frames=prompt.frames)
    if st.cfg.gif:
        animate(rec, st.out / f"{name}.gif", max_frames=150, step=max(1, rec.n_frames // 150))


def _evaluate(st: Stage, sampled: list[PoseRecord], sampled_units: list[np.ndarray], coll, held_split: str,
              export_split: str, render: SyllableInstances | None, by_video: dict[str, np.ndarray] | None,
              smooth_frames: int) -> None:
    """The checks of the samples against the run's own videos (``held_split`` of the quantizer's collection, the
    export's ``export_split``), written to generation_eval.json."""
    # the training videos' syllables (the renderer's), frame-aligned with them (an export of the quantizer's own
    # videos): what the sampled syllables imply
    own = dict(zip(st.export.dataset["train"]["video_id"], render.units, strict=True)) \
        if render is not None and by_video is not None else {}
    aligned = [own.get(r.video_id) for r in coll["train"]]
    both = None if any(u is None or len(u) != r.n_frames for u, r in zip(aligned, coll["train"], strict=True)) \
        else (aligned, sampled_units)
    result = evaluate_generation(sampled, coll[held_split], coll["train"], st.pipeline, coll.vocab, st.cfg.seed,
                                 model=st.quantizer, smooth_frames=smooth_frames, features=by_video, units=both)
    if render is not None:  # what the renderer can show as a training video shows it
        held_units = [u[:, 0] for u in st.export.video_codes(export_split, "syllables")]
        result["unseen_syllable_transitions"] = {"samples": unseen_transitions(render.units, sampled_units),
                                                 "held_out": unseen_transitions(render.units, held_units)}
    write_json_atomic(st.out / "generation_eval.json", {**result, "held_out_split": held_split,
                                                        "samples_checked": len(sampled),
                                                        "calibration_rounds": st.cfg.calibrate_rounds})
