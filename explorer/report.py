"""One Markdown report of a run: stage one, export, GPT, probes, codebook analysis, samples.

The stage-one run folder is the root; the later stages are looked for where the main job puts
them (``core.layout.RunLayout``); a stage that was not run is named with the command that runs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from behavior_tokens.core.config import Config, option
from behavior_tokens.core.errors import ArtifactError
from behavior_tokens.core.files import read_json
from behavior_tokens.core.layout import (
    CONFIG_FILE,
    EVAL_FILE,
    EXPORT_META,
    TOKENIZER_DIR,
    TOKENIZER_REPORT,
    RunLayout,
)
from behavior_tokens.core.tables import format_table
from behavior_tokens.core.tracking import read_rows
from behavior_tokens.lm.evaluate import comparison_rows
from behavior_tokens.lm.train import TABLE_KEYS as LM_KEYS
from behavior_tokens.quantize.train import TABLE_KEYS

from .probes import probe_table


@dataclass
class ReportConfig(Config):
    run: str = option("runs/quickstart", help="stage-one run folder (later stages in its sub-folders)")
    html: bool = option(True, help="also write run/html/index.html, a page with every figure and movie")


def training_plot(rows: list[dict], path: Path, key: str, held_key: str, title: str, ylabel: str) -> bool:
    """Training ``key`` and held-out ``held_key`` against the step, on readable axes; False if nothing to draw."""
    train = [r for r in rows if r["split"] == "train" and key in r]
    held = [r for r in rows if r["split"] != "train" and held_key in r]
    if not train:
        return False
    from behavior_tokens.data.plots import pyplot
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    ax.plot([r["step"] for r in train], [r[key] for r in train], label="training batches")
    if held:
        ax.plot([r["step"] for r in held], [r[held_key] for r in held], "o-", label=f"held out ({held[0]['split']})")
    values = [r[key] for r in train] + [r[held_key] for r in held]
    if min(values) > 0 and max(values) / min(values) > 20:
        ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def _missing(what: str, command: str) -> str:
    return f"_{what} not found; run:_ `{command}`\n"


def labelled(layout: RunLayout) -> bool | None:
    """Whether the run's videos hold labelled frames (training and held-out), as its main job or its export
    recorded; None where the run does not say."""
    if layout.job_status.exists():
        return read_json(layout.job_status, "job status").get("data", {}).get("labelled")
    quality = layout.vocabulary / "quality.json"
    if quality.exists():
        return any("lookup_bal_acc" in v for v in read_json(quality, "vocabulary quality")["levels"].values())
    return None


def no_labels(what: str) -> str:
    """The one sentence that says a label-based part of the report is left out."""
    return (f"The videos hold no labelled frames, so {what} left out: labels only evaluate the tokens, they never "
            "make them.")


def held_out_note(cfg: dict) -> str:
    """Which videos the run held out, and how they were chosen."""
    splits = cfg.get("splits") or {}
    held = next((s for s in ("validation", "test") if splits.get(s)), None)
    if held is None:
        return ""
    names = ", ".join(k.split("/")[-1] for k in splits[held])
    how = ("named (--test_videos)" if cfg.get("test_videos") else
           "the end of the recording (--holdout_fraction {:g})".format(cfg.get("holdout_fraction", 0))
           if any(k.endswith("]") for k in splits[held]) or cfg.get("holdout_fraction") else "the source's own")
    return f"Held out ({held}): {names}; {how}."


JOB_KEYS = ["stage", "seconds", "adapted", "note"]


def job_summary(layout: RunLayout) -> tuple[str, list[dict]] | None:
    """What the main job did (job_status.json): a sentence on the data it read, and a row per stage (its time, what
    it fitted to the data, what it left out); None for a run made stage by stage."""
    if not layout.job_status.exists():
        return None
    status = read_json(layout.job_status, "job status")
    data = status.get("data", {})
    stages = {name: status.get(name, {}) for name in status.get("order", [])}
    rows = [{"stage": name, "seconds": st.get("seconds", ""), "note": st.get("note", ""),
             "adapted": ", ".join(f"{k} {v['asked']} -> {v['used']}" for k, v in st.get("adapted", {}).items())}
            for name, st in stages.items()]
    frames = ", ".join(f"{s} {n}" for s, n in data.get("frames", {}).items())
    sentence = (f"behavior-tokens run, as {layout.job.name} says: {data.get('animals')} animal(s) x "
                f"{len(data.get('bodyparts', []))} parts at {data.get('fps')} fps, frames {frames}; held out: "
                f"{data.get('held_out')}; {'labelled' if data.get('labelled') else 'no labels'}.")
    return sentence, rows


def job_section(layout: RunLayout) -> list[str]:
    summary = job_summary(layout)
    if summary is None:
        return []
    sentence, rows = summary
    return ["## The job\n", sentence + "\n", format_table(rows, JOB_KEYS) + "\n"]


def _stage_one(layout: RunLayout, cfg: dict) -> list[str]:
    run = layout.root
    out = [f"# behavior-tokens report: `{run}`\n",
           f"Source `{cfg['source']}` ({cfg['mode']}), {cfg['family']} encoder, G={cfg['groups']} x "
           f"V={cfg['codewords']}, window {cfg['window']}, {cfg['max_steps']} steps. {held_out_note(cfg)}\n",
           *job_section(layout), "## Stage one\n"]
    rows = read_rows(run)
    if training_plot(rows, layout.quantizer_plot, "recon_loss", "recon_loss", "quantizer: reconstruction",
                     "reconstruction MSE (model space)"):
        out.append(f"![quantizer training]({layout.quantizer_plot.name})\n")
    evals = [r for r in rows if r["split"] != "train"]
    out.append(format_table(evals, TABLE_KEYS) + "\n" if evals else "_no validation yet_\n")
    return out


def _export(layout: RunLayout) -> list[str]:
    export = layout.tokens
    if not (export / EXPORT_META).exists():
        return [_missing("export", f"python scripts/export_tokens.py --checkpoint {layout.root} --output_dir {export}")]
    meta = read_json(export / EXPORT_META, "export record")
    report = export / TOKENIZER_DIR / TOKENIZER_REPORT
    tok = read_json(report, "tokenizer report") if report.exists() else {}
    out = [f"Checkpoint sha256 `{meta['checkpoint_sha256'][:16]}...`, vocabulary {meta['vocab']}, "
           f"{meta['fps']:g} fps. Tokenizer: scheme `{tok.get('scheme')}`, {tok.get('vocab_size')} tokens.\n"]
    if tok:
        out.append(format_table([{"split": s, **v} for s, v in tok["splits"].items()],
                                ["split", "frames", "tokens", "tokens_per_frame", "unk_rate"]) + "\n")
    return out


def _gpt(layout: RunLayout) -> list[str]:
    lm = layout.lm
    if not (lm / EVAL_FILE).exists():
        return [_missing("GPT", f"accelerate launch scripts/train_lm.py --tokens {layout.tokens} --output_dir {lm}")]
    ev = read_json(lm / EVAL_FILE, "GPT evaluation")
    out = []
    if training_plot(read_rows(lm), layout.lm_plot, "loss", "nll", "GPT: next-token loss",
                     "nats per token"):
        out.append(f"![GPT training]({layout.lm_plot.name})\n")
    out.append(f"Held-out split `{ev['split']}`, step {ev['step']}.\n\n"
               + format_table(comparison_rows(ev["gpt"], ev["baselines"]), LM_KEYS) + "\n")
    return out


def _probes(layout: RunLayout) -> list[str]:
    probe = layout.probe
    if not (probe / "probe.json").exists() and labelled(layout) is False:
        return [no_labels("the probes are") + "\n"]
    if not (probe / "probe.json").exists():
        return [_missing("probes", f"python scripts/probe.py --quantizer {layout.root} --lm {layout.lm} "
                         f"--output_dir {probe}")]
    res = read_json(probe / "probe.json", "probe results")
    return [f"Held-out split `{res['held_out_split']}`.\n\n{probe_table(res['results'])}\n\n"
            f"![confusion matrices]({probe.name}/confusion.png)\n"]


def _codebook(layout: RunLayout) -> list[str]:
    cb = layout.codebook
    if not (cb / "analysis.md").exists():
        return [_missing("codebook analysis", f"python scripts/analyze_codebook.py --run {layout.root} "
                         f"--output_dir {cb}")]
    return [(cb / "analysis.md").read_text().replace("## ", "### ") + "\n",
            *(f"![{p.stem}]({cb.name}/{p.name})\n" for p in sorted(cb.glob("*.png")))]


def _vocabulary(layout: RunLayout) -> list[str]:
    quality = layout.vocabulary / "quality.md"
    if not quality.exists():
        return [_missing("vocabulary quality", f"python scripts/vocabulary_quality.py --tokens {layout.tokens}")]
    note = [no_labels("the columns that score units against labels (NMI, homogeneity, lookup, bag) are") + "\n"] \
        if labelled(layout) is False else []
    return [quality.read_text().replace("## ", "### "), *note]


GENERATION_CHECK_KEYS = ["check", "real", "real value", "generated", "generated / real"]
GENERATION_FREQ_KEYS = ["behavior", "real", "real share", "real, annotators", "generated share",
                        "relative_difference", "90 % interval", "training share", "training, annotators",
                        "training vs real", "vs training", "implied by syllables", "implied vs training"]


def frequency_note(ev: dict) -> str:
    """What the behavior-frequency table of a generation_eval.json shows."""
    n = ev.get("samples_checked")
    probe = ev.get("frequency_probe", "logistic regression, balanced class weights")  # the latter before it was named
    return (f"Share of frames per behavior (one probe, {probe}, trained on real training frames of the "
            f"same reference, labels both{f'; {n} samples' if n else ''}; annotators: the human labels' share of the "
            "same real frames, what the probe should read; the interval: 90 % bootstrap over samples; implied: the "
            "share the sampled syllables imply before rendering, each frame counting its syllable's "
            "probe-labelled training frames"
            + (f"; sampled with a logit bias fitted in {ev['calibration_rounds']} rounds so the samples keep the "
               "training videos' time on each token, see sampling_bias.json" if ev.get("calibration_rounds") else "")
            + "):")


def _or_blank(x):
    return "" if x is None else x


def _interval(bounds: list[float] | None) -> str:
    return f"{bounds[0]:+.2f} .. {bounds[1]:+.2f}" if bounds else ""


def generation_rows(ev: dict) -> tuple[list[dict], list[dict]]:
    """(checks, behavior frequencies) of a generation_eval.json, as table rows, one per reference."""
    checks, freqs = [], []
    for e in [ev] + ([ev["raw"]] if "raw" in ev else []):
        ref = e.get("reference", "raw")
        speed = e["intruder_speed_px"]
        auc = e["real_vs_generated_auc"]
        moving = "intruder speed" if speed.get("of", "the other animals' centroids").startswith("the other") \
            else "posture speed (one animal)"
        checks += [{"check": f"{moving}, median px/frame", "real": ref, "real value": speed["real"],
                    "generated": speed["generated"], "generated / real": speed["ratio"]},
                   {"check": "real vs generated 1 s windows, AUC", "real": ref,
                    "generated": auc if auc is not None else "too few windows"}]
        if "training_vs_real_auc" in e:  # against the training videos, the samples' only source
            tr = f"{ref}, training videos"
            checks += [{"check": f"{moving}, median px/frame", "real": tr, "real value": speed["training"],
                        "generated": speed["generated"], "generated / real": speed["ratio_training"]},
                       {"check": "real vs generated 1 s windows, AUC", "real": tr,
                        "generated": e["training_vs_generated_auc"]},
                       {"check": "held-out vs training 1 s windows, AUC (real against real)", "real": ref,
                        "real value": e["training_vs_real_auc"]}]
            if "training_vs_real_ratio" in speed:  # absent from checks written before it was measured
                checks.append({"check": f"{moving}, training / held-out videos (real against real)",
                               "real": ref, "real value": speed["training_vs_real_ratio"]})
        freqs += [{"behavior": b, "real": ref, "real share": v["real"],
                   "real, annotators": _or_blank(v.get("real_labelled")), "generated share": v["generated"],
                   "relative_difference": v["relative_difference"],
                   "90 % interval": _interval(v.get("relative_difference_interval")),
                   "training share": v.get("training", ""),
                   "training, annotators": _or_blank(v.get("training_labelled")),
                   "training vs real": v.get("training_vs_real_difference", ""),
                   "vs training": v.get("relative_difference_training", ""),
                   "implied by syllables": v.get("implied", ""),
                   "implied vs training": v.get("implied_difference_training", "")}
                  for b, v in e.get("behavior_frequencies", {}).items()]
    if "unseen_syllable_transitions" in ev:  # a transition no training video shows is rendered as a cut
        u = ev["unseen_syllable_transitions"]
        checks.append({"check": "syllable transitions no training video shows, share", "real": "held-out syllables",
                       "real value": u["held_out"], "generated": u["samples"]})
    return checks, freqs


def _samples(layout: RunLayout) -> list[str]:
    samples = sorted(layout.samples.glob("*.png"))
    out = [f"![{p.stem}]({layout.samples.name}/{p.name})\n" for p in samples] or [
        _missing("samples", f"python scripts/generate_behavior.py --lm {layout.lm} --output_dir {layout.samples}")]
    if (layout.samples / "generation_eval.json").exists():
        ev = read_json(layout.samples / "generation_eval.json", "generation checks")
        checks, freqs = generation_rows(ev)
        out.append("Real: the held-out videos as tracked (`raw`), or encoded and decoded by the quantizer "
                   "(`reconstructed`, with the decoder's own noise, as the samples have).\n\n"
                   + format_table(checks, GENERATION_CHECK_KEYS) + "\n")
        if freqs:
            out.append(frequency_note(ev) + "\n\n" + format_table(freqs, GENERATION_FREQ_KEYS) + "\n")
        elif labelled(layout) is False:
            out.append(no_labels("the behavior frequencies of the samples are") + "\n")
    return out


def build_report(run: str | Path) -> Path:
    """Write ``run/report.md`` (and its training plots) from what the run folder holds."""
    layout = RunLayout(Path(run))
    if not layout.config.exists():
        raise ArtifactError(str(layout.root), f"no {CONFIG_FILE}: not a stage-one run folder",
                            "name a folder scripts/train_quantizer.py wrote")
    out = _stage_one(layout, read_json(layout.config, "run config"))
    for title, section in (("Token export", _export), ("Vocabulary quality", _vocabulary), ("GPT", _gpt),
                           ("Probes", _probes), ("Codebook", _codebook), ("Generated behavior", _samples)):
        out += [f"## {title}\n", *section(layout)]
    layout.report.write_text("\n".join(out))
    return layout.report
