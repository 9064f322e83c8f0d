"""Vocabulary quality of every level of a run's export: each group's codes, the G-tuples, every token
scheme and the syllable level (core.vocabulary says what is measured), trained on the export's
training videos and scored on its held-out split. Writes quality.json and quality.md.

A token scheme's unit for a frame is what its scheme says (``TokenScheme.frame_units``: the token
covering it; ``groups``: the frame's G tokens together, its G-tuple; ``syllables``: the syllable
token); every tokenizer is learned from the training split, as the export's is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from behavior_tokens.core.config import Config, option
from behavior_tokens.core.files import staged_output, write_json_atomic
from behavior_tokens.core.layout import RunLayout
from behavior_tokens.core.tables import format_table
from behavior_tokens.core.vocabulary import (
    QUALITY_KEYS,
    quality_row,
    tuple_units,
    vocabulary_quality,
)
from behavior_tokens.lm import SCHEMES, BehaviorTokenizer, TokenExport, load_token_export
from behavior_tokens.lm.data import held_out_split

QUALITY_KIND = "vocabulary quality"


@dataclass
class QualityConfig(Config):
    tokens: str = option(help="a token export (scripts/export_tokens.py)")
    output_dir: str = option("", help="where quality.json and quality.md go (default: vocabulary/ beside the export)")
    schemes: list[str] = option(default_factory=lambda: list(SCHEMES), help="token schemes to measure (those the "
                                "export can feed)")
    bag_seconds: float = option(0.5, gt=0, help="half-width of the bag of units, in seconds")
    max_bag_train: int = option(20000, ge=10, help="cap on training frames of the bag-of-units regression")
    seed: int = option(0, ge=0)
    overwrite: bool = option(False, help="replace results in output_dir (only ones this project made)")


def scheme_units(tok: BehaviorTokenizer, videos: list[np.ndarray]) -> list[np.ndarray]:
    """Each frame's unit under a tokenizer (the scheme says which: the token covering it, a frame's G tokens,
    a syllable token)."""
    return [tok.scheme.frame_units(tok, *tok.encode(units), len(units)) for units in videos]


def levels(export: TokenExport, cfg: QualityConfig) -> dict[str, dict[str, list[np.ndarray]]]:
    """{level: {split: per-video units}} for the export's training and held-out splits."""
    held = held_out_split(export)
    splits = ("train", held)
    codes = {s: list(export.video_codes(s, "codes")) for s in splits}
    V = export.meta["codewords"]
    out = {f"group {g} codes": {s: [c[:, g] for c in codes[s]] for s in splits} for g in range(codes["train"][0].shape[1])}
    out["G-tuples"] = {s: [tuple_units(c, V) for c in codes[s]] for s in splits}
    for name in cfg.schemes:
        scheme = SCHEMES.lookup(name)
        if scheme.column not in export.dataset["train"].column_names:
            continue
        G, V = scheme.sizes(export.meta)
        units = {s: list(export.video_codes(s, scheme.column)) for s in splits}
        tok = BehaviorTokenizer.build(units["train"], name, G, V)
        out[f"tokens: {name}"] = {s: scheme_units(tok, units[s]) for s in splits}
    if "syllables" in export.dataset["train"].column_names:
        out["syllables"] = {s: [u[:, 0] for u in export.video_codes(s, "syllables")] for s in splits}
    return out


def vocabulary_table(cfg: QualityConfig) -> list[dict]:
    """Measure every level of ``cfg.tokens``; write quality.json and quality.md; returns the table rows."""
    cfg.validate()
    export = load_token_export(cfg.tokens)
    out_dir = Path(cfg.output_dir) if cfg.output_dir else RunLayout.of_export(cfg.tokens).vocabulary
    with staged_output(out_dir, QUALITY_KIND, overwrite=cfg.overwrite, reads={"--tokens": Path(cfg.tokens)}) as out:
        held = held_out_split(export)
        labels = {s: list(export.video_codes(s, "labels")) for s in ("train", held)}
        labels = {s: [v[:, 0] for v in vs] for s, vs in labels.items()}
        rows, full = [], {}
        for name, units in tqdm(levels(export, cfg).items(), desc="levels", leave=False):
            q = vocabulary_quality(units["train"], units[held], export.fps, labels["train"], labels[held],
                                   bag_seconds=cfg.bag_seconds, max_bag_train=cfg.max_bag_train, seed=cfg.seed)
            full[name] = q
            rows.append(quality_row(name, q))
        write_json_atomic(out / "quality.json", {"held_out_split": held, "config": asdict(cfg), "levels": full})
        (out / "quality.md").write_text(quality_markdown(rows, held))
    return rows


def quality_markdown(rows: list[dict], held: str) -> str:
    return (f"## Vocabulary quality ({held} videos; units counted on every frame; run lengths in ms; "
            f"lookup and bag balanced accuracy on the labelled {held} frames)\n\n"
            + format_table(rows, QUALITY_KEYS) + "\n")
