"""Compare two groups of videos by likelihood: which group's language does each video speak?

For every video, one language model is fitted on each group's other videos (held out by video:
a video never scores under a model that saw it), and the video's log-likelihood ratio is its bits per
second under the second group's model minus those under the first's (positive: more like the first
group). Models are interpolated Kneser-Ney n-grams over the export's tokens (fitting a GPT per video
and group would cost minutes each on a CPU). The groups are told apart when the ratios of their
videos separate: ROC AUC of the ratio against the group, and a Mann-Whitney U test. The default
order is 1 (usage); sequence models (``--order 2..5``) need many videos per group (benchmarks/RESULTS.md,
"Group comparison").
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.stats import mannwhitneyu
from sklearn.metrics import roc_auc_score

from behavior_tokens.core.config import Config, option
from behavior_tokens.core.errors import ConfigError
from behavior_tokens.core.files import staged_output, write_json_atomic
from behavior_tokens.core.layout import RunLayout
from behavior_tokens.core.tables import format_table
from behavior_tokens.lm import NGramLM, load_token_export

from .dictionary import read_groups

GROUPS_KIND = "group comparison"


@dataclass
class GroupsConfig(Config):
    tokens: str = option(help="a token export (scripts/export_tokens.py)")
    groups_csv: str = option(help="CSV with columns video, group (two groups)")
    # 1 by default: on synthetic:20:4:x6 (attack 2.4 % vs 10.9 % of frames, 10 videos a group) unigram usage
    # separated the groups (AUC 0.92) where bigrams and trigrams, fitted on 9 videos, did not (0.46, 0.51)
    order: int = option(1, ge=1, le=5, help="n-gram order of the group models (1: unit usage; higher orders need "
                        "many videos per group)")
    output_dir: str = option("", help="default: groups/ beside the export")
    overwrite: bool = option(False, help="replace results in output_dir (only ones this project made)")


def video_streams(export) -> dict[str, tuple[np.ndarray, int]]:
    """{video: (<sep> + its token ids, frames)} for every video of the export."""
    tok = export.tokenizer
    out = {}
    for split in export.dataset:
        for vid, units in zip(export.dataset[split]["video_id"], export.video_codes(split), strict=True):
            out[vid] = (np.concatenate([[tok.sep_id], tok.encode(units)[0]]), len(units))
    return out


def compare_groups(cfg: GroupsConfig) -> dict:
    cfg.validate()
    export = load_token_export(cfg.tokens)
    streams = video_streams(export)
    groups = read_groups(cfg.groups_csv, list(streams))
    names = sorted(set(groups.values()))
    if len(names) != 2:
        raise ConfigError("--groups_csv", f"names {len(names)} groups ({', '.join(names)})", "name exactly two")
    members = {g: [v for v in groups if groups[v] == g] for g in names}
    if min(len(m) for m in members.values()) < 2:
        raise ConfigError("--groups_csv", "a group has fewer than 2 videos", "each video is scored by models of the "
                          "others: give each group at least 2")
    result = {"config": asdict(cfg), **likelihood_ratios(streams, groups, len(export.tokenizer), export.fps, cfg.order)}
    out_dir = Path(cfg.output_dir) if cfg.output_dir else RunLayout.of_export(cfg.tokens).groups
    with staged_output(out_dir, GROUPS_KIND, overwrite=cfg.overwrite, reads={"--tokens": Path(cfg.tokens)}) as out:
        write_json_atomic(out / "groups.json", result)
        (out / "groups.md").write_text(groups_markdown(result))
        _plot(result, out / "groups.png")
    return result


def likelihood_ratios(streams: dict[str, tuple[np.ndarray, int]], groups: dict[str, str], vocab_size: int,
                      fps: float, order: int) -> dict:
    """Each video's bits/s under n-gram models of each group's other videos; {groups, videos, auc,
    mann_whitney_p}, the ratio's AUC against membership of the first group (sorted names)."""
    names = sorted(set(groups.values()))
    members = {g: [v for v in groups if groups[v] == g] for g in names}
    rows = []
    for video, group in groups.items():
        ids, frames = streams[video]
        bits = {}
        for g in names:
            train = np.concatenate([streams[v][0] for v in members[g] if v != video])
            bits[g] = float(NGramLM(order, vocab_size).fit(train).nll(ids).sum()) / math.log(2)
        seconds = frames / fps
        rows.append({"video": video, "group": group, f"bits_per_s {names[0]}": bits[names[0]] / seconds,
                     f"bits_per_s {names[1]}": bits[names[1]] / seconds,
                     "llr_bits_per_s": (bits[names[1]] - bits[names[0]]) / seconds})
    llr = np.array([r["llr_bits_per_s"] for r in rows])
    first = np.array([r["group"] == names[0] for r in rows])
    return {"groups": names, "videos": rows, "auc": float(roc_auc_score(first, llr)),
            "mann_whitney_p": float(mannwhitneyu(llr[first], llr[~first], alternative="greater").pvalue)}


def groups_markdown(result: dict) -> str:
    a, b = result["groups"]
    keys = ["video", "group", f"bits_per_s {a}", f"bits_per_s {b}", "llr_bits_per_s"]
    return (f"## Groups by likelihood ({a} vs {b}; llr > 0: the video is likelier under {a}'s model, each "
            f"video held out of its group's)\n\nROC AUC {result['auc']:.3f}, Mann-Whitney p {result['mann_whitney_p']:.3g}"
            f"\n\n{format_table(sorted(result['videos'], key=lambda r: -r['llr_bits_per_s']), keys)}\n")


def _plot(result: dict, path: Path) -> None:
    from behavior_tokens.data.plots import pyplot
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for k, g in enumerate(result["groups"]):
        llr = [r["llr_bits_per_s"] for r in result["videos"] if r["group"] == g]
        ax.scatter(np.full(len(llr), k) + np.linspace(-0.1, 0.1, len(llr)), llr, s=30, label=g)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(range(2), result["groups"])
    ax.set_ylabel(f"log-likelihood ratio, bits/s ({result['groups'][0]} - {result['groups'][1]})")
    ax.set_title(f"each video under models of the others (AUC {result['auc']:.2f})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
