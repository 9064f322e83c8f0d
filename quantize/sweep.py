"""The groups x variables trade-off: short runs over a grid of (G, V), one table and a heatmap.

Each cell trains ``base`` with G groups and V codewords into ``output_dir/G{G}_V{V}`` and keeps
its final validation: % and number of the V^G codewords used, used once, reconstruction R2 and
the codeword tree's balanced accuracy. A finished cell (its ``model/`` exists) is read back, not
trained again, so an interrupted sweep continues where it stopped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from behavior_tokens.core.config import Config, option
from behavior_tokens.core.errors import ConfigError
from behavior_tokens.core.layout import MODEL_DIR, MODEL_FILE
from behavior_tokens.core.tables import format_table
from behavior_tokens.core.tracking import read_rows

from .config import QuantizerConfig
from .train import train_quantizer

SWEEP_KEYS = ["groups", "codewords", "codewords_used_pct", "codewords_used", "codewords_used_once", "r2_px",
              "r2_model_space", "bal_acc_tree_codes"]
HEATMAPS = {"codewords_used_pct": "% of V^G used", "codewords_used": "codewords used", "r2_px": "R2 (pixels)",
            "bal_acc_tree_codes": "tree balanced accuracy"}


@dataclass
class SweepGrid(Config):
    sweep_groups: list[int] = option(default_factory=lambda: [1, 2, 4], ge=1, help="values of G")
    sweep_codewords: list[int] = option(default_factory=lambda: [16, 64, 320], ge=2, help="values of V")


def _last_validation(run_dir: Path) -> dict:
    return [r for r in read_rows(run_dir) if r["split"] != "train"][-1]


def sweep(base: QuantizerConfig, groups: list[int], codewords: list[int]) -> list[dict]:
    """Train (or read back) every (G, V) cell; write sweep.json, sweep.md and sweep.png into base.output_dir."""
    root = Path(base.output_dir)
    root.mkdir(parents=True, exist_ok=True)
    bad = [g for g in groups if base.latent_dim % g]
    if bad:
        raise ConfigError("--sweep_groups", f"latent_dim {base.latent_dim} is not divisible by groups {bad}",
                          "choose divisors of --latent_dim")
    rows = []
    for g in groups:
        for v in codewords:
            run = root / f"G{g}_V{v}"
            if not (run / MODEL_DIR / MODEL_FILE).exists():
                print(f"\n=== G={g} V={v} -> {run}")
                train_quantizer(replace(base, groups=g, codewords=v, output_dir=str(run), overwrite=True,
                                        resume=False))
            rows.append({"groups": g, "codewords": v, **_last_validation(run)})
    (root / "sweep.json").write_text(json.dumps(rows, indent=2))
    (root / "sweep.md").write_text(format_table(rows, SWEEP_KEYS) + "\n")
    plot_sweep(rows, groups, codewords, root / "sweep.png")
    return rows


def plot_sweep(rows: list[dict], groups: list[int], codewords: list[int], path: Path) -> None:
    from behavior_tokens.data.plots import pyplot
    plt = pyplot()
    fig, axes = plt.subplots(1, len(HEATMAPS), figsize=(3.6 * len(HEATMAPS), 3.2))
    for ax, (key, title) in zip(axes, HEATMAPS.items(), strict=True):
        grid = np.full((len(groups), len(codewords)), np.nan)
        for r in rows:
            if r.get(key) is not None:
                grid[groups.index(r["groups"]), codewords.index(r["codewords"])] = r[key]
        ax.imshow(grid, cmap="viridis", aspect="auto")
        for (i, j), val in np.ndenumerate(grid):
            if np.isfinite(val):
                ax.text(j, i, f"{val:.3g}", ha="center", va="center", fontsize=7, color="w")
        ax.set_xticks(range(len(codewords)), codewords)
        ax.set_yticks(range(len(groups)), groups)
        ax.set_xlabel("V (variables per group)")
        ax.set_ylabel("G (groups)")
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
