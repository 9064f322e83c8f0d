"""One Markdown report of a run: stage one, export, GPT, probes, codebook analysis, samples.

The stage-one run folder is the root; the later stages are looked for in its sub-folders as the
README's main job writes them (``tokens/``, ``lm/``, ``probe/``, ``codebook/``, ``samples/``); a
stage that was not run is named with the command that runs it.
"""

from __future__ import annotations

import json
from pathlib import Path

from quantize.train import TABLE_KEYS, format_table

from .evaluate import comparison_rows
from .probes import probe_table
from .train import TABLE_KEYS as LM_KEYS


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in open(path)] if path.exists() else []


def _training_plot(rows: list[dict], path: Path, key: str, title: str) -> bool:
    train = [r for r in rows if r["split"] == "train" and key in r]
    if not train:
        return False
    from data.plots import pyplot
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot([r["step"] for r in train], [r[key] for r in train])
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(key)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def _missing(what: str, command: str) -> str:
    return f"_{what} not found; run:_ `{command}`\n"


def build_report(run: str | Path) -> Path:
    """Write ``run/report.md`` (and its training plots) from what the run folder holds."""
    run = Path(run)
    if not (run / "config.json").exists():
        raise FileNotFoundError(f"{run}: no config.json; expected a stage-one run folder")
    cfg = json.loads((run / "config.json").read_text())
    out = [f"# behavior-tokens report: `{run}`\n",
           f"Source `{cfg['source']}` ({cfg['mode']}), {cfg['family']} encoder, G={cfg['groups']} x "
           f"V={cfg['codewords']}, window {cfg['window']}, {cfg['max_steps']} steps.\n", "## Stage one\n"]
    rows = _rows(run / "metrics.jsonl")
    if _training_plot(rows, run / "training_quantizer.png", "recon_loss", "quantizer: reconstruction loss"):
        out.append("![quantizer training](training_quantizer.png)\n")
    evals = [r for r in rows if r["split"] != "train"]
    out.append(format_table(evals, TABLE_KEYS) + "\n" if evals else "_no validation yet_\n")

    out.append("## Token export\n")
    export = run / "tokens"
    if (export / "export.json").exists():
        meta = json.loads((export / "export.json").read_text())
        tok = json.loads((export / "tokenizer" / "report.json").read_text()) if (
            export / "tokenizer" / "report.json").exists() else {}
        out.append(f"Checkpoint sha256 `{meta['checkpoint_sha256'][:16]}...`, vocabulary {meta['vocab']}, "
                   f"{meta['fps']:g} fps. Tokenizer: scheme `{tok.get('scheme')}`, {tok.get('vocab_size')} tokens.\n")
        if tok:
            out.append(format_table([{"split": s, **v} for s, v in tok["splits"].items()],
                                    ["split", "frames", "tokens", "tokens_per_frame", "unk_rate"]) + "\n")
    else:
        out.append(_missing("export", f"python scripts/export_tokens.py --checkpoint {run} --output_dir {export}"))

    out.append("## GPT\n")
    lm = run / "lm"
    if (lm / "eval.json").exists():
        ev = json.loads((lm / "eval.json").read_text())
        if _training_plot(_rows(lm / "metrics.jsonl"), run / "training_lm.png", "loss", "GPT: training loss"):
            out.append("![GPT training](training_lm.png)\n")
        out.append(f"Held-out split `{ev['split']}`, step {ev['step']}.\n\n"
                   + format_table(comparison_rows(ev["gpt"], ev["baselines"]), LM_KEYS) + "\n")
    else:
        out.append(_missing("GPT", f"accelerate launch scripts/train_lm.py --tokens {export} --output_dir {lm}"))

    out.append("## Probes\n")
    probe = run / "probe"
    if (probe / "probe.json").exists():
        res = json.loads((probe / "probe.json").read_text())
        out.append(f"Held-out split `{res['held_out_split']}`.\n\n{probe_table(res['results'])}\n\n"
                   "![confusion matrices](probe/confusion.png)\n")
    else:
        out.append(_missing("probes", f"python scripts/probe.py --quantizer {run} --lm {lm} --output_dir {probe}"))

    out.append("## Codebook\n")
    cb = run / "codebook"
    if (cb / "analysis.md").exists():
        out.append((cb / "analysis.md").read_text().replace("## ", "### ") + "\n")
        out += [f"![{p.stem}](codebook/{p.name})\n" for p in sorted(cb.glob("*.png"))]
    else:
        out.append(_missing("codebook analysis", f"python scripts/analyze_codebook.py --run {run} --output_dir {cb}"))

    out.append("## Generated behavior\n")
    samples = sorted((run / "samples").glob("*.png"))
    out += [f"![{p.stem}](samples/{p.name})\n" for p in samples] or [
        _missing("samples", f"python scripts/generate_behavior.py --lm {lm} --output_dir {run / 'samples'}")]
    path = run / "report.md"
    path.write_text("\n".join(out))
    return path
