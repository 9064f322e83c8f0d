"""Search the vocabulary: bouts that match a pattern of units, or that resemble an example bout.

Each video is read as its sequence of runs (a syllable and how long it lasts). A pattern is a regular
expression over that sequence written as unit numbers separated by spaces (``"12 7 (3|4)"``, ``"12 .* 7"``
matches whole units only). An example bout (video, start, end in seconds) is matched against every
window of as many runs in every video by edit distance between their unit sequences (the example's
own video included, its own place left out), ties broken by the closeness of durations. Results are
the best non-overlapping bouts with time stamps, and a grid movie of them.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from behavior_tokens.core.config import Config, option
from behavior_tokens.core.errors import ConfigError
from behavior_tokens.core.files import staged_output, write_json_atomic
from behavior_tokens.core.layout import RunLayout
from behavior_tokens.core.runs import run_values
from behavior_tokens.core.tables import format_table
from behavior_tokens.data import MISSING_LABEL
from behavior_tokens.data.render import grid_frames, save_gif
from behavior_tokens.lm import load_token_export

from .dictionary import Videos, egocentric_records, export_videos

SEARCH_KIND = "search results"
RESULT_KEYS = ["rank", "video", "split", "start_s", "end_s", "units", "score", "human label"]


@dataclass
class SearchConfig(Config):
    tokens: str = option(help="a token export (scripts/export_tokens.py)")
    pattern: str = option("", help="regular expression over unit numbers, e.g. '12 7 (3|4)'")
    example: list[str] = option(default_factory=list, help="an example bout: VIDEO START_S END_S")
    top: int = option(8, ge=1, le=16)
    name: str = option("", help="sub-folder of the results (default: made from the query)")
    output_dir: str = option("", help="default: search/ beside the export")
    overwrite: bool = option(False, help="replace results of the same name (only ones this project made)")


@dataclass
class Runs:
    """One video's runs: unit, first frame, length."""

    units: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray

    @classmethod
    def of(cls, units: np.ndarray) -> Runs:
        values, lengths = run_values(units)
        return cls(values, np.cumsum(lengths) - lengths, lengths)


def pattern_bouts(videos: Videos, pattern: str) -> list[dict]:
    """Every match of ``pattern`` in every video, as bouts (video, first frame, frames, units)."""
    try:
        regex = re.compile(r"(?<!\S)(?:" + pattern + r")(?!\S)")
    except re.error as e:
        raise ConfigError("--pattern", f"{pattern!r} is not a regular expression ({e})", "check its brackets") from None
    known = {int(u) for units in videos.units for u in np.unique(units)}
    named = {int(n) for n in re.findall(r"\d+", re.sub(r"\{\d*,?\d*\}", "", pattern))}  # not repeat counts
    if named - known:  # no match could be found: say so, rather than "0 matches"
        raise ConfigError("--pattern", f"units {sorted(named - known)} never occur in the export (its units: "
                          f"{min(known)}..{max(known)}, {len(known)} of them)", "search for units the dictionary lists")
    found = []
    for v, units in enumerate(videos.units):
        runs = Runs.of(units)
        words = [str(u) for u in runs.units.tolist()]
        offsets = np.cumsum([0] + [len(w) + 1 for w in words])  # character where each run's word starts
        text = " ".join(words)
        for m in regex.finditer(text):
            a = int(np.searchsorted(offsets, m.start(), side="right") - 1)
            b = int(np.searchsorted(offsets, m.end(), side="left"))
            if b <= a:
                continue
            frame, end = int(runs.starts[a]), int(runs.starts[b - 1] + runs.lengths[b - 1])
            found.append({"video": v, "start": frame, "frames": end - frame, "units": words[a:b], "score": 1.0})
    return found


def edit_distance(a: list[int], b: list[int]) -> int:
    d = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, d[0] = d[0], i
        for j, y in enumerate(b, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (x != y))
    return d[-1]


def similar_bouts(videos: Videos, video: int, start: int, end: int) -> list[dict]:
    """Windows of runs resembling frames [start, end) of ``video``: score 1 - edit distance / runs, minus a
    small penalty for a different duration."""
    runs = Runs.of(videos.units[video])
    inside = np.flatnonzero((runs.starts + runs.lengths > start) & (runs.starts < end))
    query = runs.units[inside].tolist()
    n, frames = len(query), end - start
    found = []
    for v, units in enumerate(videos.units):
        r = Runs.of(units)
        for a in range(0, max(0, len(r.units) - n) + 1):
            first, last = int(r.starts[a]), int(r.starts[a + n - 1] + r.lengths[a + n - 1])
            if v == video and first < end and last > start:
                continue  # the example itself
            score = 1 - edit_distance(query, r.units[a:a + n].tolist()) / n
            score -= 0.1 * abs(np.log((last - first) / frames))
            found.append({"video": v, "start": first, "frames": last - first,
                          "units": [str(u) for u in r.units[a:a + n].tolist()], "score": float(score)})
    return found


def best_bouts(found: list[dict], top: int) -> list[dict]:
    """The ``top`` highest-scoring bouts that do not overlap (earlier first among equals)."""
    chosen = []
    for b in sorted(found, key=lambda b: (-b["score"], b["video"], b["start"])):
        if all(c["video"] != b["video"] or b["start"] >= c["start"] + c["frames"] or c["start"] >= b["start"] + b["frames"]
               for c in chosen):
            chosen.append(b)
        if len(chosen) == top:
            break
    return chosen


def label_summary(labels: np.ndarray, vocab: dict[str, int]) -> str:
    """The most frequent human label of a bout's frames and its share, e.g. 'attack 80%' ('none': unlabelled)."""
    labels = labels[labels != MISSING_LABEL]
    if not len(labels):
        return "none"
    names = {i: b for b, i in vocab.items()}
    top = np.bincount(labels).argmax()
    return f"{names.get(int(top), str(top))} {100 * np.mean(labels == top):.0f}%"


def search(cfg: SearchConfig, records=None) -> list[dict]:
    """Run one query; write results.json, results.md and movie.gif; returns the result rows."""
    cfg.validate()
    if bool(cfg.pattern) == bool(cfg.example):
        raise ConfigError("--pattern", "give a pattern or an example bout, one of them", "--pattern '12 7' or "
                          "--example VIDEO START_S END_S")
    if cfg.name and (not re.fullmatch(r"[A-Za-z0-9_.-]+", cfg.name) or cfg.name in (".", "..")):
        raise ConfigError("--name", f"{cfg.name!r} is not a folder name", "use letters, digits, '_', '.' and '-' (the "
                          "results are a sub-folder of search/)")
    export = load_token_export(cfg.tokens)
    videos = export_videos(export)
    if cfg.pattern:
        found, query = pattern_bouts(videos, cfg.pattern), f"pattern {cfg.pattern!r}"
    else:
        found, query = _example(videos, cfg.example), f"like {' '.join(cfg.example)}"
    chosen = best_bouts(found, cfg.top)
    rows = [{"rank": i + 1, "video": videos.ids[b["video"]], "split": videos.splits[b["video"]],
             "start_s": b["start"] / videos.fps, "end_s": (b["start"] + b["frames"]) / videos.fps,
             "units": " ".join(b["units"][:12]), "score": b["score"],
             "human label": label_summary(videos.labels[b["video"]][b["start"]:b["start"] + b["frames"]], videos.vocab)}
            for i, b in enumerate(chosen)]
    name = cfg.name or re.sub(r"[^A-Za-z0-9_.-]+", "_", query).strip("_")[:60]
    root = Path(cfg.output_dir) if cfg.output_dir else RunLayout.of_export(cfg.tokens).search
    with staged_output(root / name, SEARCH_KIND, overwrite=cfg.overwrite, reads={"--tokens": Path(cfg.tokens)}) as out:
        if chosen:
            records = records if records is not None else egocentric_records(export, videos)
            clips = [records[b["video"]].keypoints[b["start"]:b["start"] + min(b["frames"], 90)] for b in chosen]
            titles = [f"{r['video'][-12:]} {r['start_s']:.1f}s" for r in rows]
            save_gif(grid_frames(clips, records[0].bodyparts, titles=titles), out / "movie.gif", videos.fps)
        write_json_atomic(out / "results.json", {"query": query, "config": asdict(cfg), "matches": len(found),
                                                 "results": rows, "movie": "movie.gif" if chosen else None})
        (out / "results.md").write_text(f"### Search: {query} ({len(found)} matches)\n\n"
                                        + format_table(rows, RESULT_KEYS) + "\n")
    return rows


def _example(videos: Videos, example: list[str]) -> list[dict]:
    if len(example) != 3:
        raise ConfigError("--example", f"got {len(example)} values", "give VIDEO START_S END_S")
    video, a, b = example
    if video not in videos.ids:
        raise ConfigError("--example", f"no video {video!r} in the export", f"choose one of {', '.join(videos.ids[:8])}")
    try:
        start, end = (int(round(float(x) * videos.fps)) for x in (a, b))
    except ValueError:
        raise ConfigError("--example", f"{a!r} or {b!r} is not a time in seconds", "give START_S END_S as numbers") \
            from None
    v = videos.ids.index(video)
    if not 0 <= start < end <= len(videos.units[v]):
        raise ConfigError("--example", f"{a}-{b} s is not a bout inside {video} "
                          f"(0-{len(videos.units[v]) / videos.fps:.1f} s)", "give 0 <= START_S < END_S <= its length")
    return similar_bouts(videos, v, start, end)
