"""Surprisal: how unexpected each frame is to the GPT (and to the best n-gram), and faults it reveals.

A video's units are tokenized and scored (each token from the context before it); a token's bits are
spread over the frames it stands for (tokens starting on the same frame, such as a syllable and its
duration, share them), giving bits per frame. Each score of a frame is the mean bits per frame over
the ``smooth_seconds`` around it, as a z-score against the training videos' frames. Two levels: the
GPT over the lasting units (syllables: what happens next in behavior), and a trigram over the
per-frame codes (one token per group per frame, fitted on the training videos' codes: how each
frame's pose moves on, which the syllables smooth away). The anomaly score is the sum of the two
z-scores.

Validation on held-out videos with injected faults (``inject_fault``): an identity swap of the first two
animals for 1-3 s, keypoint jitter, frozen frames, a dropped segment (the frames around the cut are the
fault). Frame-level ROC AUC of the anomaly score against the fault mask, beside a non-LM baseline: the
z-score of the mean keypoint speed over the same window.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from behavior_tokens.core.config import Config, option
from behavior_tokens.core.errors import ConfigError
from behavior_tokens.core.files import read_json, staged_output, write_json_atomic
from behavior_tokens.core.layout import EVAL_FILE, RunLayout
from behavior_tokens.core.tables import format_table
from behavior_tokens.lm import (
    BehaviorTokenizer,
    NGramLM,
    gpt_nll,
    load_lm,
    load_token_export,
    split_stream,
)
from behavior_tokens.lm.evaluate import BASELINE_ORDERS, best_baseline
from behavior_tokens.lm.saving import check_trained_on

from .units import UnitEncoder

FAULTS = ("identity swap", "jitter", "frozen", "dropped segment")
CODES_ORDER = 3  # of the per-frame codes' n-gram (a trigram over group tokens: the previous frame's codes)
SCORES = ("gpt", "ngram", "codes", "anomaly", "speed")  # the columns of the fault table


def spread_over_frames(tok: BehaviorTokenizer, token_bits: np.ndarray, durations: np.ndarray, n_frames: int
                       ) -> np.ndarray:
    """(n_frames,) bits per frame: each group of tokens starting on one frame shares its bits over the frames
    up to the next group's start."""
    starts = tok.frame_of_token(durations)
    first, group = np.unique(starts, return_inverse=True)
    sums = np.bincount(group, weights=token_bits, minlength=len(first))
    ends = np.append(first[1:], n_frames)
    out = np.zeros(n_frames)
    for a, b, s in zip(first.tolist(), ends.tolist(), sums.tolist(), strict=True):
        if b > a:
            out[a:b] = s / (b - a)
    return out


@torch.no_grad()
def gpt_frame_bits(model, tok: BehaviorTokenizer, units: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """(T,) bits per frame of one video's units under the GPT (the video starts with <sep>, as in training)."""
    ids, durations = tok.encode(units)
    stream = np.concatenate([[tok.sep_id], ids])
    nll = gpt_nll(model, stream, model.config.max_position_embeddings, batch_size, next(model.parameters()).device)
    return spread_over_frames(tok, nll / math.log(2), durations, len(units))


def ngram_frame_bits(ngram: NGramLM, tok: BehaviorTokenizer, units: np.ndarray) -> np.ndarray:
    ids, durations = tok.encode(units)
    stream = np.concatenate([[tok.sep_id], ids])
    return spread_over_frames(tok, ngram.nll(stream) / math.log(2), durations, len(units))


def window_mean(x: np.ndarray, frames: int) -> np.ndarray:
    from behavior_tokens.quantize.viterbi import smooth
    return smooth(x[:, None], max(1, frames))[:, 0]


@dataclass
class Reference:
    """Mean and spread of a per-frame score on training videos, to z-score held-out ones."""

    mean: float
    std: float

    @classmethod
    def of(cls, scores: list[np.ndarray]) -> Reference:
        x = np.concatenate(scores)
        return cls(float(x.mean()), float(x.std()) + 1e-9)

    def z(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.std


def speed(record) -> np.ndarray:
    """(T,) mean keypoint displacement per frame, px (the non-LM baseline's raw signal)."""
    kp = record.keypoints.astype(np.float64)
    d = np.linalg.norm(np.diff(kp, axis=0), axis=2).mean(axis=(1, 2))
    return np.concatenate([d[:1], d])


def inject_fault(record, kind: str, rng: np.random.Generator, events: int = 3, seconds: tuple[float, float] = (1, 3),
                 jitter_px: float = 15.0):
    """A copy of ``record`` with ``events`` faults of ``kind`` and the (T,) mask of faulty frames."""
    kp = np.array(record.keypoints, dtype=np.float32)
    T, fps = len(kp), record.fps
    mask = np.zeros(T, dtype=bool)
    keep = np.ones(T, dtype=bool)
    slots = np.array_split(np.arange(T), events)  # one event per equal slice, away from the others
    for slot in slots:
        n = int(rng.uniform(*seconds) * fps)
        if len(slot) < n + 2 * fps:
            continue
        a = int(rng.integers(slot[0] + fps, slot[-1] - n - fps))
        b = a + n
        if kind == "identity swap":
            kp[a:b, [0, 1]] = kp[a:b, [1, 0]]
        elif kind == "jitter":
            kp[a:b] += rng.normal(scale=jitter_px, size=kp[a:b].shape).astype(np.float32)
        elif kind == "frozen":
            kp[a:b] = kp[a]
        elif kind == "dropped segment":
            keep[a:b] = False
            mask[max(0, a - int(fps / 2)):b + int(fps / 2)] = True  # the cut, and half a second around it
            continue
        else:
            raise ValueError(f"fault {kind!r}: expected one of {FAULTS}")
        mask[a:b] = True
    faulted = replace(record, keypoints=kp[keep], scores=record.scores[keep], labels=record.labels[keep],
                      video_id=f"{record.video_id} ({kind})")
    return faulted, mask[keep]


def fault_auc(score: np.ndarray, mask: np.ndarray) -> float | None:
    return float(roc_auc_score(mask, score)) if 0 < mask.sum() < len(mask) else None


# ---- the command: timelines and the fault table of a trained GPT ------------------------------------------


SURPRISAL_KIND = "surprisal"


@dataclass
class SurprisalConfig(Config):
    lm: str = option(help="a train_lm run folder")
    source: str = option("", help="pose source to draw timelines of (default: the run's held-out videos)")
    output_dir: str = option("", help="default: surprisal/ in the stage-one run")
    smooth_seconds: float = option(1.0, gt=0, help="window of the anomaly score")
    faults: list[str] = option(default_factory=lambda: list(FAULTS), help="faults injected into held-out videos")
    events: int = option(3, ge=1, help="faults of each kind per video")
    seed: int = option(0, ge=0)
    overwrite: bool = option(False, help="replace results in output_dir (only ones this project made)")


class Scorer:
    """Per-frame scores of a video: GPT bits, best n-gram bits, speed; smoothed and z-scored on training videos."""

    def __init__(self, lm_folder: str | Path, smooth_seconds: float):
        self.model, self.tok, self.lm_cfg, _ = load_lm(lm_folder)
        self.export = load_token_export(self.lm_cfg.tokens)
        check_trained_on(self.lm_cfg, self.export, lm_folder)
        self.encoder = UnitEncoder.of_export(self.export, self.tok.scheme.column)
        ev = read_json(Path(lm_folder) / EVAL_FILE if (Path(lm_folder) / EVAL_FILE).exists()
                       else Path(lm_folder).parent / EVAL_FILE, "GPT evaluation")
        self.ngram_name = best_baseline(ev["baselines"])
        train = split_stream(self.export, self.lm_cfg.train_splits)
        self.ngram = NGramLM(BASELINE_ORDERS[self.ngram_name], len(self.tok)).fit(train.ids)
        self.window = max(1, int(round(smooth_seconds * self.export.fps)))
        splits = [s for s in self.lm_cfg.train_splits if s in self.export.dataset]
        units = [u for s in splits for u in self.export.video_codes(s)]
        codes = [c.astype(np.int64) for s in splits for c in self.export.video_codes(s, "codes")]
        qcfg = self.encoder.quantizer.cfg
        self.codes_tok = BehaviorTokenizer.build(codes, "groups", groups=codes[0].shape[1],
                                                 codewords=max(qcfg.codewords, qcfg.coarse_codewords))
        self.codes_ngram = NGramLM(CODES_ORDER, len(self.codes_tok)).fit(
            np.concatenate([np.concatenate([[self.codes_tok.sep_id], self.codes_tok.encode(c)[0]]) for c in codes]))
        self.refs = {"gpt": Reference.of([window_mean(gpt_frame_bits(self.model, self.tok, u), self.window)
                                          for u in units]),
                     "ngram": Reference.of([window_mean(ngram_frame_bits(self.ngram, self.tok, u), self.window)
                                            for u in units]),
                     "codes": Reference.of([window_mean(ngram_frame_bits(self.codes_ngram, self.codes_tok, c), self.window)
                                            for c in codes])}

    def raw(self, record) -> dict[str, np.ndarray]:
        codes, units = self.encoder.codes_and_units(record)
        return {"gpt": gpt_frame_bits(self.model, self.tok, units), "ngram": ngram_frame_bits(self.ngram, self.tok, units),
                "codes": ngram_frame_bits(self.codes_ngram, self.codes_tok, codes), "speed": speed(record),
                "units": units[:, 0]}

    def scores(self, record, speed_ref: Reference) -> dict[str, np.ndarray]:
        raw = self.raw(record)
        out = {k: self.refs[k].z(window_mean(raw[k], self.window)) for k in ("gpt", "ngram", "codes")}
        out["anomaly"] = out["gpt"] + out["codes"]
        out["speed"] = speed_ref.z(window_mean(raw["speed"], self.window))
        return {**out, "bits_gpt": raw["gpt"], "bits_ngram": raw["ngram"], "bits_codes": raw["codes"],
                "units": raw["units"]}


def draw_timeline(record, scores: dict, path: Path, vocab: dict, title: str) -> Path:
    """Bits per frame under the GPT and the n-gram (1 s means) above the ethogram of units and labels."""
    from behavior_tokens.data.plots import plot_ethogram, pyplot
    plt = pyplot()
    t = np.arange(record.n_frames) / record.fps
    fig, (ax, an, eth) = plt.subplots(3, 1, figsize=(10, 5.5), sharex=True, gridspec_kw={"height_ratios": [2, 1.2, 1]})
    w = max(1, int(round(record.fps)))
    ax.plot(t, window_mean(scores["bits_gpt"], w), lw=1, label="GPT over units")
    ax.plot(t, window_mean(scores["bits_ngram"], w), lw=1, alpha=0.7, label="best n-gram over units")
    ax.set_ylabel("bits per frame\n(1 s mean)")
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=9)
    an.plot(t, scores["anomaly"], lw=1, color="C3")
    an.axhline(0, color="k", lw=0.6)
    an.set_ylabel("anomaly\n(z, GPT + codes)")
    an.grid(alpha=0.3)
    plot_ethogram(eth, scores["units"][:, None], record.labels, vocab, record.fps)
    eth.set_yticks(range(2), ["unit", "label"])
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def surprisal_report(cfg: SurprisalConfig) -> dict:
    """Timelines of held-out (or ``cfg.source``) videos and, on held-out videos, the fault AUROC table."""
    from behavior_tokens.quantize.data import run_collection
    from behavior_tokens.quantize.saving import run_root
    cfg.validate()
    bad = sorted(set(cfg.faults) - set(FAULTS))
    if bad:
        raise ConfigError("--faults", f"{bad} are not faults", f"choose among {', '.join(FAULTS)}")
    scorer = Scorer(cfg.lm, cfg.smooth_seconds)
    qcfg = scorer.encoder.quantizer.cfg
    coll, held = run_collection(qcfg)
    speed_ref = Reference.of([window_mean(speed(r), scorer.window) for r in coll["train"]])
    videos = run_collection(qcfg, cfg.source)[0].records if cfg.source else coll[held]
    out_dir = Path(cfg.output_dir) if cfg.output_dir else RunLayout(run_root(scorer.export.meta["checkpoint"])).surprisal
    with staged_output(out_dir, SURPRISAL_KIND, overwrite=cfg.overwrite) as out:
        timelines = []
        for i, rec in enumerate(videos):
            s = scorer.scores(rec, speed_ref)
            name = f"timeline_{i:02d}.png"
            draw_timeline(rec, s, out / name, qcfg.vocab, f"{rec.video_id}: surprisal, units, labels")
            timelines.append({"video": rec.video_id, "image": name, "mean_bits_per_frame_gpt": float(s["bits_gpt"].mean()),
                              "mean_bits_per_frame_ngram": float(s["bits_ngram"].mean())})
        rng = np.random.default_rng(cfg.seed)
        rows = []
        faults = [f for f in cfg.faults if f != "identity swap" or qcfg.n_animals > 1]  # a swap needs two animals
        for kind in faults:
            pooled = {k: [] for k in (*SCORES, "mask")}
            for rec in coll[held]:
                faulted, mask = inject_fault(rec, kind, rng, cfg.events)
                s = scorer.scores(faulted, speed_ref)
                for k in SCORES:
                    pooled[k].append(s[k])
                pooled["mask"].append(mask)
            mask = np.concatenate(pooled["mask"])
            rows.append({"fault": kind, "fault_frames_pct": 100 * float(mask.mean()),
                         **{f"auroc_{k}": fault_auc(np.concatenate(pooled[k]), mask) for k in SCORES}})
        result = {"config": asdict(cfg), "held_out_split": held, "ngram": scorer.ngram_name, "faults": rows,
                  "timelines": timelines, "left_out": sorted(set(cfg.faults) - set(faults))}
        write_json_atomic(out / "surprisal.json", result)
        (out / "surprisal.md").write_text(surprisal_markdown(result))
    return result


FAULT_KEYS = ["fault", "fault_frames_pct", *(f"auroc_{k}" for k in SCORES)]


def surprisal_markdown(result: dict) -> str:
    return (f"## Surprisal as an anomaly score ({result['held_out_split']} videos with injected faults; frame-level "
            f"ROC AUC of the {result['config']['smooth_seconds']:g} s mean surprisal under the GPT over units (gpt), "
            f"the {result['ngram']} over the same tokens (ngram), the trigram over per-frame codes (codes), the "
            f"anomaly score (gpt + codes, z-scores), and of the non-LM baseline, the speed z-score)\n\n"
            + format_table(result["faults"], FAULT_KEYS) + "\n"
            + "".join(f"\n{f}: left out, it needs two animals.\n" for f in result.get("left_out", [])))
