"""Generate behavior: GPT tokens -> codewords -> the stage-one decoder -> keypoints, saved and drawn.

A sample continues the first ``prompt_seconds`` of a held-out video (or starts from nothing) for
``seconds`` of behavior, drawn with a logit bias that keeps the training videos' time on each token
(``sampling.calibrate_bias``; ``calibrate_rounds 0``: none). Token durations come from the token where
it fixes them (groups, combined, bpe, syllables); ``rle`` tokens carry no duration, so each sampled run
gets one drawn from that token's run lengths in the training split. Prompt frames keep their real codes and labels.
Sampled syllables are shown as real training instances of them (``lm.instances``). Decoded keypoints are
egocentric (see quantize.decode): the resident is held at the dataset's mean position, body axis up. Each sample
is written as a record folder (``data.load_records``), its tokens and codes (``.npz``), a strip of frames above an
ethogram (``.png``) and a ``.gif``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from behavior_tokens.core.config import Config, option
from behavior_tokens.core.errors import ArtifactError, ConfigError
from behavior_tokens.core.files import model_dir, read_json, staged_output, write_json_atomic
from behavior_tokens.core.layout import EXPORT_META, LM_CONFIG_FILE, RunLayout
from behavior_tokens.core.vocabulary import unseen_transitions
from behavior_tokens.data import MISSING_LABEL, PoseRecord, save_records
from behavior_tokens.data.plots import animate, plot_sample
from behavior_tokens.quantize import load_quantizer
from behavior_tokens.quantize.data import run_collection
from behavior_tokens.quantize.decode import decode_features, decode_record, features_record
from behavior_tokens.quantize.saving import run_root

from .config import LMConfig
from .data import TokenExport, held_out_split, load_token_export
from .generation_eval import evaluate_generation, fit_decoder_smoothing
from .instances import RunLengths, SyllableInstances
from .joins import JOIN_BLENDS, BlendName
from .sampling import calibrate_bias, sample_batch, seen_steps
from .tokenizer import BehaviorTokenizer

SAMPLES_KIND = "generated samples"
SAMPLE_BATCH = 32  # samples drawn together (one forward pass per token for all of them)


@dataclass
class GenerateConfig(Config):
    lm: str = option(help="a train_lm run folder (or its model/ folder)")
    output_dir: str = option("", help="where samples go (default: the stage-one run's samples/)")
    quantizer: str = option("", help="stage-one run; default: the one the tokens came from")
    tokens: str = option("", help="token export for prompts; default: the LM's")
    prompt_video: str = option("", help="held-out video to prompt with; default: the first")
    prompt_seconds: float = option(2.0, ge=0, help="seconds of real behavior before sampling (0: none)")
    seconds: float = option(10.0, gt=0, help="seconds of behavior to sample")
    samples: int = option(2, ge=1, help="samples written (keypoints, plot, GIF)")
    eval_samples: int = option(128, ge=0, help="samples the checks are made on (the written ones first, then more "
                               "drawn the same way and not written): a behavior that comes in a few long bouts needs "
                               "an hour or more of samples to be measured within 20 %%, the main job reads 512 (0: the written ones only)")
    temperature: float = option(1.0, gt=0)
    calibrate_rounds: int = option(10, ge=0, help="rounds of fitting a per-token logit bias so that free-running "
                                   "samples keep the training videos' time on each token (lm/sampling.py; a GPT "
                                   "sampling from itself drifts away from rare behavior). 0: sample the GPT as trained")
    calibrate_samples: int = option(128, ge=1, help="samples drawn together in each calibration round")
    top_k: int = option(0, ge=0, help="sample among the k most likely tokens (0: all)")
    top_p: float = option(1.0, gt=0, le=1, help="sample among the fewest most likely tokens whose probabilities sum "
                          "to this (nucleus sampling; 1: all)")
    seen_transitions: bool = option(True, help="syllables: a syllable may only follow one that some training video "
                                    "has it follow (transitions the renderer can show as a video shows them; false: "
                                    "any, as the GPT gives them). Frame-level schemes are sampled as the GPT gives them")
    seed: int = option(0, ge=0)
    smooth_frames: int = option(0, ge=0, help="moving average of decoded features, frames (each frame is decoded "
                                "alone; its noise adds motion). 0: chosen on the training videos so decoded ones move "
                                "as fast as tracked ones; 1: none")
    join_frames: int = option(8, ge=0, help="syllables: each rendered instance starts where the previous one's video "
                              "went on, the shift fading out over this many frames (0: joins as cut)")
    join_search: int = option(10, ge=0, help="syllables: a join may be made up to this many frames later where it "
                              "jumps less: the previous instance runs on in its own video while that shows one of the "
                              "two syllables (a transition shown as a video shows it; 0: joins where sampled)")
    join_relational_weight: float = option(1.0, ge=0, help="syllables: weight of the relational features (speeds, "
                                           "distances; standardised) beside the animals' coordinates when joins are "
                                           "costed. 1: as the model reads them (samples hardest to tell from real "
                                           "ones); below 1, joins jump less in position, the frequency probe reads "
                                           "them more truly, but samples are told from real ones more easily "
                                           "(benchmarks/RESULTS.md, 'Tenth session')")
    join_step_weight: float = option(1.0, ge=0, help="syllables: weight of the relational features' frame-to-frame "
                                     "steps (the resident's egomotion, the others' speeds) in the join cost, on top "
                                     "of --join_relational_weight. They are the noisiest features: a join costed on "
                                     "them prefers instances that begin and end still, so samples move less than "
                                     "their training videos (benchmarks/RESULTS.md, 'Twelfth session')")
    join_blend: BlendName = option("orbit", help="syllables: how an instance is moved onto the frame that follows "
                                   "the one before (lm/joins.py): rigid turns, moves and reshapes each animal (a body "
                                   "keeps its length through a turn); orbit also moves the other animals round the "
                                   "first in distance and bearing (an intruder goes round the resident, not across "
                                   "it); linear shifts every keypoint (a turning body shortens midway; the default "
                                   "before the eleventh session, benchmarks/RESULTS.md)")
    piece_quantile: float = option(1.0, gt=0, le=1, help="syllables: a sampled run longer than this quantile of its "
                                   "syllable's training runs is rendered in pieces no longer (1: only a run longer "
                                   "than all of them; below 1, more joins inside sampled runs, which the frequency "
                                   "probe reads as other behavior: benchmarks/RESULTS.md, 'Fourteenth session')")
    gif: bool = True
    evaluate: bool = option(True, help="compare the samples with held-out videos (lm/generation_eval.py): "
                            "intruder speed, behavior frequencies, real-vs-generated AUC")
    overwrite: bool = option(False, help="replace samples in output_dir (only ones this project made)")


def load_lm(folder: str | Path) -> tuple[torch.nn.Module, BehaviorTokenizer, LMConfig, dict]:
    """(model, tokenizer, config, export metadata) of a model saved by ``train_lm``."""
    from transformers import AutoModelForCausalLM
    folder = model_dir(folder, LM_CONFIG_FILE, "a trained GPT", "name a finished scripts/train_lm.py run or its "
                       "model/ folder")
    meta = read_json(folder / EXPORT_META, "export record")
    tok = BehaviorTokenizer.from_pretrained(folder, (meta.get("finish") or {}).get("sha256"))
    try:
        model = AutoModelForCausalLM.from_pretrained(str(folder)).eval()
    except Exception as e:  # transformers / safetensors raise several types for a damaged folder
        raise ArtifactError(str(folder), f"damaged model ({type(e).__name__}: {' '.join(str(e).split())[:200]})",
                            "train the GPT again") from None
    if model.config.vocab_size != len(tok):
        raise ArtifactError(str(folder), f"the model knows {model.config.vocab_size} tokens, its tokenizer {len(tok)}",
                            "restore the model folder as training wrote it")
    return model, tok, LMConfig.load(folder / LM_CONFIG_FILE), meta


def sample_code_batch(model, tokenizer: BehaviorTokenizer, prompt_codes: np.ndarray, n_frames: int, batch: int, *,
                      tokens_per_frame: float, run_lengths: RunLengths | None, temperature: float, top_k: int,
                      seed: int, bias: torch.Tensor | None = None, top_p: float = 1.0,
                      follows: torch.Tensor | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """``batch`` samples of ``n_frames`` frames of codes after ``prompt_codes`` (T0, G), drawn together:
    (codes (n_frames, G), sampled ids) of each."""
    g = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    period = tokenizer.scheme.period
    prompt_ids = tokenizer.encode(prompt_codes)[0] if len(prompt_codes) else np.zeros(0, dtype=np.int64)
    new_ids = np.zeros((batch, 0), dtype=np.int64)
    new_codes: list[list[np.ndarray]] = [[] for _ in range(batch)]
    frames = np.zeros(batch, dtype=np.int64)
    while frames.min() < n_frames:
        n = max(1, math.ceil((n_frames - frames.min()) * tokens_per_frame))
        n = period * math.ceil(n / period)  # whole steps (frames, or syllables with their durations)
        ids = sample_batch(model, tokenizer, np.concatenate([np.tile(prompt_ids, (batch, 1)), new_ids], axis=1), n,
                           temperature=temperature, top_k=top_k, top_p=top_p, generator=g, bias=bias,
                           follows=follows)  # (batch, n)
        for b in range(batch):
            durations = tokenizer.scheme.token_frames(tokenizer, ids[b])
            if durations is None:
                durations = run_lengths.sample(ids[b], rng)
            new_codes[b].append(tokenizer.decode(ids[b], durations))
            frames[b] += len(new_codes[b][-1])
        new_ids = np.concatenate([new_ids, ids], axis=1)
    return [(np.concatenate(c)[:n_frames], i) for c, i in zip(new_codes, new_ids, strict=True)]


def sample_codes(model, tokenizer: BehaviorTokenizer, prompt_codes: np.ndarray, n_frames: int, **kwargs
                 ) -> tuple[np.ndarray, np.ndarray]:
    """One sample of ``n_frames`` frames of codes after ``prompt_codes`` (T0, G); returns (codes, sampled ids)."""
    return sample_code_batch(model, tokenizer, prompt_codes, n_frames, 1, **kwargs)[0]


def generate_behavior(cfg: GenerateConfig) -> list[PoseRecord]:
    """Write ``cfg.samples`` generated videos into ``cfg.output_dir``; returns their records."""
    cfg.validate()
    model, tok, lm_cfg, meta = load_lm(cfg.lm)
    if not (cfg.quantizer or meta.get("checkpoint")):
        raise ConfigError("--quantizer", "the export does not name its quantizer", "pass --quantizer RUN_DIR")
    # the quantizer the tokens were made with, unchanged since (the export recorded its weights' sha256)
    quantizer, pipeline = load_quantizer(cfg.quantizer or meta["checkpoint"], expect_sha256=meta["checkpoint_sha256"])
    out_dir = Path(cfg.output_dir) if cfg.output_dir else RunLayout(run_root(meta["checkpoint"])).samples
    with staged_output(out_dir, SAMPLES_KIND, overwrite=cfg.overwrite) as out:
        return _generate(cfg, model, tok, lm_cfg, quantizer, pipeline, out)


def _generate(cfg: GenerateConfig, model, tok: BehaviorTokenizer, lm_cfg: LMConfig, quantizer, pipeline, out: Path
              ) -> list[PoseRecord]:
    export: TokenExport = load_token_export(cfg.tokens or lm_cfg.tokens)
    fps = export.fps
    held = held_out_split(export, lm_cfg.eval_split)
    rows = export.dataset[held]
    names = list(rows["video_id"])
    if cfg.prompt_video and cfg.prompt_video not in names:
        raise ConfigError("--prompt_video", f"no video {cfg.prompt_video!r} in the {held} split",
                          f"choose one of {', '.join(names)}")
    pick = names.index(cfg.prompt_video) if cfg.prompt_video else 0
    n_prompt = int(round(cfg.prompt_seconds * fps))
    real_codes = np.asarray(rows[pick]["codes"], dtype=np.int64)[:n_prompt]
    real_units = np.asarray(rows[pick][tok.scheme.column], dtype=np.int64).reshape(len(rows[pick]["labels"]), -1)
    real_units = real_units[:n_prompt]
    real_labels = np.asarray(rows[pick]["labels"], dtype=np.int64)[:n_prompt]
    # A syllable stands for many code sequences: each sampled one is rendered as a real instance of it.
    # Every exported video decoded once: instances join on these features, and (an export of the quantizer's own
    # videos at stride 1) they are also the reconstructed reference and what the decoder's smoothing is fitted on.
    decoded = {s: [decode_features(quantizer, c) for c in export.video_codes(s, "codes")] for s in export.dataset}
    by_video = {v: f for s in export.dataset for v, f in zip(export.dataset[s]["video_id"], decoded[s], strict=True)
                } if export.meta.get("stride", 1) == 1 and export.meta.get("source") == quantizer.cfg.source else None
    render = None
    if tok.scheme.column == "syllables":
        # joins costed on the decoded features, their relational part (standardised speeds and inter-animal measures)
        # weighted: its frame-to-frame noise hides jumps in position (RESULTS.md, "Tenth session")
        n_animals, n_parts = quantizer.cfg.n_animals, quantizer.cfg.n_parts
        join_points = [pipeline.weigh_relational(f, cfg.join_relational_weight, n_animals, n_parts,
                                                 cfg.join_step_weight) for f in decoded["train"]]
        blend = JOIN_BLENDS.lookup(cfg.join_blend)(n_animals, n_parts, pipeline.heading_parts(quantizer.cfg.bodyparts))
        render = SyllableInstances(export, frame_features=decoded["train"], join_frames=cfg.join_frames,
                                   piece_quantile=cfg.piece_quantile, join_search=cfg.join_search,
                                   join_points=join_points, blend=blend)
    # Training videos tokenized once: the token rate sizes each sampling round, run lengths give rle durations.
    encoded, frames = [], 0
    for codes in (c for s in lm_cfg.train_splits if s in export.dataset for c in export.video_codes(s)):
        encoded.append(tok.encode(codes))
        frames += len(codes)
    tpf = sum(len(ids) for ids, _ in encoded) / max(1, frames)
    run_lengths = None if tok.scheme.fixes_durations else RunLengths(encoded)
    coll, held_split = run_collection(quantizer.cfg)
    smooth_frames, ratios = (cfg.smooth_frames, None) if cfg.smooth_frames else \
        fit_decoder_smoothing(coll["train"], quantizer, pipeline, features=by_video)
    write_json_atomic(out / "generate_config.json", {**asdict(cfg), "decoder_smooth_frames": smooth_frames,
                                                     "decoded_speed_ratio_by_smoothing": ratios})
    n_frames = int(round(cfg.seconds * fps))
    train_ids = [ids for ids, _ in encoded]
    follows = seen_steps(tok, train_ids) if cfg.seen_transitions and render is not None else None
    bias = None
    if cfg.calibrate_rounds:
        prompt_ids = tok.encode(real_units)[0] if len(real_units) else np.zeros(0, dtype=np.int64)
        n_new = tok.scheme.period * math.ceil(n_frames * tpf / tok.scheme.period)
        bias, distance = calibrate_bias(model, tok, prompt_ids, train_ids, n_new,
                                        rounds=cfg.calibrate_rounds, batch=cfg.calibrate_samples,
                                        temperature=cfg.temperature, top_k=cfg.top_k, top_p=cfg.top_p, follows=follows,
                                        generator=torch.Generator().manual_seed(cfg.seed + 10**6))
        calibration = {"token_share_distance_by_round": [round(d, 4) for d in distance],
                       "bias": {tok.token(i): round(float(b), 4) for i, b in enumerate(bias.tolist()) if b}}
        write_json_atomic(out / "sampling_bias.json", calibration)
    n_samples = max(cfg.samples, cfg.eval_samples if cfg.evaluate else 0)
    drawn = [x for first in tqdm(range(0, n_samples, SAMPLE_BATCH), desc=f"sampling {n_samples}", unit="batch",
                                 leave=False)
             for x in sample_code_batch(model, tok, real_units, n_frames, min(SAMPLE_BATCH, n_samples - first),
                                        tokens_per_frame=tpf, run_lengths=run_lengths, temperature=cfg.temperature,
                                        top_k=cfg.top_k, top_p=cfg.top_p, seed=cfg.seed + first, bias=bias,
                                        follows=follows)]
    records, sampled_units = [], []
    for i, (units, ids) in enumerate(tqdm(drawn, desc="rendering", unit="sample", leave=False)):
        codes, feats = (units, None) if render is None else render(units[:, 0], np.random.default_rng(cfg.seed + i))
        all_codes = np.concatenate([real_codes, codes])
        labels = np.concatenate([real_labels, np.full(len(codes), MISSING_LABEL, dtype=np.int64)])
        name = f"sample_{i:03d}"
        title = f"{name} ({names[pick]} + {cfg.seconds:g} s)"
        rec = decode_record(quantizer, pipeline, all_codes, title, labels, smooth_frames) if feats is None else \
            features_record(quantizer, pipeline, np.concatenate([decoded[held][pick][:n_prompt], feats]), title, labels,
                            smooth_frames)
        records.append(rec)
        sampled_units.append(units[:, 0])
        if i >= cfg.samples:  # drawn for the checks only
            continue
        save_records([rec], out / name)
        np.savez(out / f"{name}.npz", codes=all_codes, units=np.concatenate([real_units, units]), sampled_ids=ids,
                 prompt_frames=len(real_codes))
        if render is None:
            plot_sample(rec, out / f"{name}.png", codes=all_codes, prompt_frames=len(real_codes))
        else:  # the sampled syllables above the codes that render them
            plot_sample(rec, out / f"{name}.png", codes=np.concatenate([np.concatenate([real_units, units]), all_codes], 1),
                        prompt_frames=len(real_codes),
                        code_names=["syllable", *(f"group {g}" for g in range(all_codes.shape[1]))])
        if cfg.gif:
            animate(rec, out / f"{name}.gif", max_frames=150, step=max(1, rec.n_frames // 150))
    if cfg.evaluate:
        sampled = [replace(r, keypoints=r.keypoints[n_prompt:], scores=r.scores[n_prompt:], labels=r.labels[n_prompt:])
                   for r in records]  # the generated part of each sample, against the run's own videos
        # the training videos' syllables (the renderer's), frame-aligned with them (an export of the quantizer's own
        # videos): what the sampled syllables imply
        own = dict(zip(export.dataset["train"]["video_id"], render.units, strict=True)) \
            if render is not None and by_video is not None else {}
        aligned = [own.get(r.video_id) for r in coll["train"]]
        both = None if any(u is None or len(u) != r.n_frames for u, r in zip(aligned, coll["train"], strict=True)) \
            else (aligned, sampled_units)
        result = evaluate_generation(sampled, coll[held_split], coll["train"], pipeline, coll.vocab, cfg.seed,
                                     model=quantizer, smooth_frames=smooth_frames, features=by_video, units=both)
        if render is not None:  # what the renderer can show as a training video shows it
            held_units = [u[:, 0] for u in export.video_codes(held, "syllables")]
            result["unseen_syllable_transitions"] = {"samples": unseen_transitions(render.units, sampled_units),
                                                     "held_out": unseen_transitions(render.units, held_units)}
        write_json_atomic(out / "generation_eval.json", {**result, "held_out_split": held_split,
                                                         "samples_checked": len(sampled),
                                                         "calibration_rounds": cfg.calibrate_rounds})
    return records[:cfg.samples]
