"""Codebook analysis of a trained quantizer run: tables and plots (scripts/analyze_codebook.py).

Frames of every split are encoded (every ``stride``-th frame, so no frame is counted twice) and
the statistics of quantize.codebook computed per split; every checkpoint the run saved is
encoded on the held-out split (every ``checkpoint_stride``-th frame) to show usage against
training time. Writes analysis.json, analysis.md, usage_histogram.png, usage_over_training.png.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from behavior_tokens.core.checkpoint import list_checkpoints
from behavior_tokens.core.config import Config, option
from behavior_tokens.core.files import staged_output, write_json_atomic
from behavior_tokens.core.layout import MODEL_FILE, RunLayout
from behavior_tokens.core.tables import format_table
from behavior_tokens.core.vocabulary import sampling_name

from .codebook import similarity_statistics, usage_histogram, usage_statistics
from .data import run_collection
from .export import encode_record
from .saving import load_quantizer, load_weights, model_folder

USAGE_KEYS = ["split", "sampling", "frames", "used", "used_pct", "used_once", "used_more_than_once",
              "count_skewness", "group_perplexity", "joint_perplexity"]
SIMILARITY_KEYS = ["split", "n_used", "all_used", "n_used_once", "used_once", "used_once_same_label",
                   "used_once_other_label"]
TRAINING_KEYS = ["step", "used", "used_pct", "used_once", "group_perplexity", "joint_perplexity"]


ANALYSIS_KIND = "codebook analysis"


@dataclass
class AnalysisConfig(Config):
    run: str = option(help="stage-one run folder (with model/ and checkpoints/)")
    output_dir: str = option("", help="where analysis.json, analysis.md and the plots go (default: RUN/codebook)")
    source: str = option("", help="pose source; default: the run's, split as it was")
    stride: int = option(1, ge=1, help="encode every s-th frame")
    checkpoint_stride: int = option(4, ge=1, help="every s-th held-out frame for each checkpoint")
    overwrite: bool = option(False, help="replace an analysis in output_dir (only one this project made)")


def encode_split(model, pipeline, records, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes (N, G) and labels (N,) of every ``stride``-th frame of ``records``."""
    codes, labels = [], []
    for rec in records:
        codes.append(encode_record(model, pipeline, rec, stride=stride).codes[::stride].astype(np.int64))
        labels.append(rec.labels[::stride])
    return np.concatenate(codes), np.concatenate(labels)


def usage_over_training(run: Path, model, pipeline, records, stride: int) -> list[dict]:
    """Usage statistics of every saved checkpoint of ``run`` on ``records``, by step."""
    rows = []
    for step, ck in tqdm(list_checkpoints(run), desc="checkpoints", leave=False):
        load_weights(model, ck / MODEL_FILE)
        codes, _ = encode_split(model.eval(), pipeline, records, stride)
        rows.append({"step": step, **usage_statistics(codes, model.cfg.codewords)})
    return rows


def _plots(hists: dict[str, dict[int, int]], training: list[dict], out: Path) -> None:
    from behavior_tokens.data.plots import pyplot
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for split, h in hists.items():
        ax.loglog(list(h), list(h.values()), "o-", ms=3, label=split)
    ax.set_xlabel("times a codeword is used")
    ax.set_ylabel("codewords")
    ax.legend()
    ax.set_title("codeword usage")
    fig.tight_layout()
    fig.savefig(out / "usage_histogram.png", dpi=90)
    plt.close(fig)
    if training:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        steps = [r["step"] for r in training]
        ax.plot(steps, [r["used"] for r in training], "o-", label="codewords used")
        ax.plot(steps, [r["used_once"] for r in training], "s-", label="used once")
        ax.set_xlabel("training step")
        ax.set_ylabel("codewords (held-out frames)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "usage_over_training.png", dpi=90)
        plt.close(fig)


def analyze_codebook(cfg: AnalysisConfig) -> dict:
    """Run the analysis of ``cfg.run``; returns what analysis.json holds."""
    run = Path(cfg.run)
    out_dir = Path(cfg.output_dir) if cfg.output_dir else RunLayout(run).codebook
    with staged_output(out_dir, ANALYSIS_KIND, overwrite=cfg.overwrite, reads={"--run model": model_folder(run)}) as out:
        result = _analyze(cfg, run, out)
    return result


def _analyze(cfg: AnalysisConfig, run: Path, out: Path) -> dict:
    model, pipeline = load_quantizer(run)
    qcfg = model.cfg
    coll, held = run_collection(qcfg, cfg.source)
    write_json_atomic(out / "analysis_config.json", asdict(cfg))
    usage, similarity, hists = [], [], {}
    all_codes, all_labels = [], []
    for split, records in coll.splits.items():
        codes, labels = encode_split(model, pipeline, records, cfg.stride)
        all_codes.append(codes)
        all_labels.append(labels)
        usage.append({"split": split, "sampling": sampling_name(cfg.stride), **usage_statistics(codes, qcfg.codewords)})
        similarity.append({"split": split, **similarity_statistics(codes, labels)})
        hists[split] = usage_histogram(codes)
    codes, labels = np.concatenate(all_codes), np.concatenate(all_labels)
    usage.append({"split": "all", "sampling": sampling_name(cfg.stride), **usage_statistics(codes, qcfg.codewords)})
    similarity.append({"split": "all", **similarity_statistics(codes, labels)})
    training = usage_over_training(run, model, pipeline, coll[held], cfg.checkpoint_stride)
    result = {"groups": qcfg.groups, "codewords": qcfg.codewords, "usage": usage, "similarity": similarity,
              "usage_histogram": {s: {str(k): v for k, v in h.items()} for s, h in hists.items()},
              "usage_over_training": training, "held_out_split": held}
    write_json_atomic(out / "analysis.json", result)
    (out / "analysis.md").write_text(analysis_markdown(result))
    _plots(hists, training, out)
    return result


def analysis_markdown(result: dict) -> str:
    G, V = result["groups"], result["codewords"]
    parts = [f"## Codebook usage (G={G} groups x V={V}: {float(V) ** G:,.0f} possible codewords)\n",
             format_table(result["usage"], USAGE_KEYS),
             "\n\n## Codeword similarity (mean fraction of groups holding the same variable, over pairs)\n",
             format_table(result["similarity"], SIMILARITY_KEYS)]
    if result["usage_over_training"]:
        parts += [f"\n\n## Usage against training time ({result['held_out_split']} frames, each checkpoint)\n",
                  format_table(result["usage_over_training"], TRAINING_KEYS)]
    return "".join(parts) + "\n"
