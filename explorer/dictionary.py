"""The token dictionary: what each unit of the lasting level is, seen and counted.

For the export's syllable level (its per-group codes, group 0, when it has none), every unit, most
used first: instances (runs), frames and their share, median duration, label enrichment (how much
more often each behavior occurs in the unit's frames than overall), its mean trajectory and a grid
movie of up to 16 real instances drawn as skeletons in the resident's frame. Beside them: the
transition graph of the most used units (probability of the next unit, given a unit ends), usage per
video and, with a metadata CSV (video, group), a Kruskal-Wallis test per unit across groups
(Benjamini-Hochberg corrected). Writes dictionary.json, dictionary.md, movies/, trajectories/,
transitions.png, usage.png into the run's dictionary/ folder.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from behavior_tokens.core.config import Config, option
from behavior_tokens.core.errors import ConfigError
from behavior_tokens.core.files import staged_output, write_json_atomic
from behavior_tokens.core.layout import RunLayout
from behavior_tokens.core.runs import run_transitions, runs_of
from behavior_tokens.core.tables import format_table
from behavior_tokens.data import MISSING_LABEL, PoseRecord
from behavior_tokens.data.render import grid_frames, save_gif
from behavior_tokens.data.skeleton import front_and_back
from behavior_tokens.lm import TokenExport, load_token_export

DICTIONARY_KIND = "token dictionary"


@dataclass
class DictionaryConfig(Config):
    tokens: str = option(help="a token export (scripts/export_tokens.py)")
    output_dir: str = option("", help="default: dictionary/ beside the export")
    groups_csv: str = option("", help="CSV with columns video, group: usage compared across groups")
    units: int = option(0, ge=0, help="units described (most used first; 0: all)")
    instances: int = option(16, ge=1, le=64, help="instances per grid movie")
    movie_frames: int = option(60, ge=2, help="longest clip of a grid movie, frames")
    graph_units: int = option(20, ge=2, help="most used units in the transition graph")
    seed: int = option(0, ge=0)
    overwrite: bool = option(False, help="replace a dictionary in output_dir (only one this project made)")


@dataclass
class Videos:
    """Every video of an export: ids, per-frame units and labels, and (when drawn) egocentric keypoints."""

    ids: list[str]
    splits: list[str]
    units: list[np.ndarray]
    labels: list[np.ndarray]
    fps: float
    vocab: dict[str, int]
    level: str


def export_videos(export: TokenExport) -> Videos:
    """The lasting level of every video: syllables, or group 0's codes for an export without them."""
    column = "syllables" if "syllables" in export.dataset["train"].column_names else "codes"
    ids, splits, units, labels = [], [], [], []
    for split in export.dataset:
        ids += list(export.dataset[split]["video_id"])
        splits += [split] * len(export.dataset[split])
        units += [u[:, 0] for u in export.video_codes(split, column)]
        labels += [v[:, 0] for v in export.video_codes(split, "labels")]
    return Videos(ids, splits, units, labels, export.fps, export.meta["vocab"],
                  "syllables" if column == "syllables" else "group 0 codes")


def unit_table(videos: Videos, runs: dict[int, np.ndarray]) -> list[dict]:
    """One row per unit, most frames first: instances, frames, share, median duration, label enrichment."""
    allu, alll = np.concatenate(videos.units), np.concatenate(videos.labels)
    labelled = alll != MISSING_LABEL
    overall = {b: float((alll[labelled] == i).mean()) for b, i in videos.vocab.items()} if labelled.any() else {}
    rows = []
    for unit, r in runs.items():
        mask = allu == unit
        row = {"unit": unit, "instances": len(r), "frames": int(mask.sum()), "share_pct": 100 * float(mask.mean()),
               "median_ms": 1000 * float(np.median(r[:, 2])) / videos.fps}
        lab = alll[mask & labelled]
        for b, i in videos.vocab.items():
            if overall.get(b):
                row[f"x {b}"] = float((lab == i).mean()) / overall[b] if len(lab) else None
        if len(lab) and overall:
            # the behavior the unit is most enriched for, as a reader would say it: "attack 95% (29x)"
            b = max(overall, key=lambda k: (row.get(f"x {k}") or 0))
            row["reads as"] = f"{b} {100 * float((lab == videos.vocab[b]).mean()):.0f}% ({row[f'x {b}']:.1f}x)"
        rows.append(row)
    return sorted(rows, key=lambda r: -r["frames"])


def transitions(units: list[np.ndarray], keep: list[int]) -> np.ndarray:
    """P(next unit | unit ends) among ``keep`` (rows sum to 1 over the kept units a unit went to)."""
    index = {u: i for i, u in enumerate(keep)}
    counts = np.zeros((len(keep), len(keep)))
    for a, b in (p for u in units for p in run_transitions(u)):
        if a in index and b in index:
            counts[index[a], index[b]] += 1
    return counts / np.maximum(counts.sum(1, keepdims=True), 1)


def draw_transitions(keep: list[int], probs: np.ndarray, share: dict[int, float], path: Path, min_prob: float = 0.1
                     ) -> Path:
    """The transition graph: nodes sized by usage, arrows for transitions of probability >= min_prob."""
    import networkx as nx

    from behavior_tokens.data.plots import pyplot
    plt = pyplot()
    graph = nx.DiGraph()
    graph.add_nodes_from(keep)
    for i, a in enumerate(keep):
        for j, b in enumerate(keep):
            if i != j and probs[i, j] >= min_prob:
                graph.add_edge(a, b, p=probs[i, j])
    pos = nx.circular_layout(graph)
    fig, ax = plt.subplots(figsize=(7, 7))
    nx.draw_networkx_nodes(graph, pos, node_size=[3000 * share[u] / max(share.values()) + 200 for u in keep],
                           node_color="#9ecae1", ax=ax)
    nx.draw_networkx_labels(graph, pos, font_size=8, ax=ax)
    widths = [4 * graph.edges[e]["p"] for e in graph.edges]
    nx.draw_networkx_edges(graph, pos, width=widths, arrowsize=12, connectionstyle="arc3,rad=0.12",
                           edge_color="#555555", ax=ax, node_size=600)
    ax.set_title(f"transitions between the {len(keep)} most used units (arrows: P >= {min_prob:g})", fontsize=9)
    ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def usage_by_video(videos: Videos, keep: list[int]) -> np.ndarray:
    """(videos, len(keep)) share of each video's frames in each unit."""
    return np.array([[float((u == k).mean()) for k in keep] for u in videos.units])


def read_groups(path: str | Path, ids: list[str]) -> dict[str, str]:
    """{video: group} from a CSV with columns video, group; every row's video must be in the export, once."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:  # a spreadsheet's byte-order mark is not a column
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise ConfigError("--groups_csv", f"{path}: {e.strerror}", "check the path") from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise ConfigError("--groups_csv", f"{path} is not a readable CSV ({e})", "save it as UTF-8 CSV") from None
    if not rows or not {"video", "group"} <= set(rows[0]):
        raise ConfigError("--groups_csv", f"{path} has no columns video, group", "write a header line 'video,group'")
    groups: dict[str, str] = {}
    for line, r in enumerate(rows, start=2):
        if r["video"] in groups:
            raise ConfigError("--groups_csv", f"{path.name}: line {line}: video {r['video']!r} is named a second time "
                              f"(group {r['group']!r}, before {groups[r['video']]!r})", "name each video once")
        groups[r["video"]] = r["group"]
    unknown = sorted(set(groups) - set(ids))
    if unknown:
        raise ConfigError("--groups_csv", f"videos {unknown[:5]} of {path.name} are not in the export",
                          f"its videos are {', '.join(ids[:8])}")
    return groups


def group_tests(usage: np.ndarray, ids: list[str], groups: dict[str, str], keep: list[int]) -> list[dict]:
    """Per unit: Kruskal-Wallis H and p across groups of videos, and the Benjamini-Hochberg q."""
    from scipy.stats import kruskal
    names = sorted(set(groups.values()))
    if len(names) < 2:
        raise ConfigError("--groups_csv", "needs at least two groups", "name two or more groups")
    rows = []
    for j, unit in enumerate(keep):
        samples = [[usage[i, j] for i, v in enumerate(ids) if groups.get(v) == g] for g in names]
        try:
            h, p = kruskal(*samples)
        except ValueError:  # every video uses the unit equally: no difference to test
            h, p = 0.0, 1.0
        rows.append({"unit": unit, "H": float(h), "p": float(p),
                     **{f"mean {g}": float(np.mean(s)) for g, s in zip(names, samples, strict=True)}})
    order = np.argsort([r["p"] for r in rows])
    m = len(rows)
    q, running = np.empty(m), 1.0
    for rank, i in reversed(list(enumerate(order, start=1))):
        running = min(running, rows[i]["p"] * m / rank)
        q[i] = running
    for r, qv in zip(rows, q, strict=True):
        r["q"] = float(qv)
    return rows


def pick_instances(r: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Up to n runs, the longer preferred (a movie of one-frame runs shows nothing)."""
    order = np.argsort(-r[:, 2] + rng.uniform(0, 0.5, len(r)))
    return r[np.sort(order[:n])]


def clips(records: list[PoseRecord], chosen: np.ndarray, max_frames: int) -> list[np.ndarray]:
    return [records[v].keypoints[s:s + min(n, max_frames)] for v, s, n in chosen.tolist()]


def mean_trajectory(records: list[PoseRecord], r: np.ndarray, path: Path, samples: int = 5, panel: int = 120) -> Path:
    """The mean pose at ``samples`` moments of the unit's runs (each run resampled to the same length)."""
    poses = []
    for v, s, n in r.tolist():
        idx = s + np.linspace(0, n - 1, samples).round().astype(int)
        poses.append(records[v].keypoints[idx])
    mean = np.mean(poses, axis=0)  # (samples, animals, 2, parts)
    frames = grid_frames([mean[k:k + 1] for k in range(samples)], records[0].bodyparts, panel=panel, columns=samples,
                         titles=[f"{100 * k / (samples - 1):.0f}%" for k in range(samples)])
    frames[0].save(path)
    return path


def build_dictionary(cfg: DictionaryConfig, records: list[PoseRecord] | None = None) -> list[dict]:
    """Write the dictionary of ``cfg.tokens`` (see the module doc); returns its table rows.

    ``records``: every video of the export, in the resident's frame (egocentric pixels), to draw them;
    by default read from the export's quantizer run.
    """
    cfg.validate()
    export = load_token_export(cfg.tokens)
    videos = export_videos(export)
    groups = read_groups(cfg.groups_csv, videos.ids) if cfg.groups_csv else None
    if records is None:
        records = egocentric_records(export, videos)
    out_dir = Path(cfg.output_dir) if cfg.output_dir else RunLayout.of_export(cfg.tokens).dictionary
    with staged_output(out_dir, DICTIONARY_KIND, overwrite=cfg.overwrite, reads={"--tokens": Path(cfg.tokens)}) as out:
        return _write(cfg, videos, records, groups, out)


POSTURE_KEYS = ["apart_px", "nose_nose_px", "other_moves_px"]


def posture(records: list[PoseRecord], r: np.ndarray, max_frames: int = 5000,
            rng: np.random.Generator | None = None) -> dict[str, float]:
    """What a unit looks like in numbers, over (a sample of) its frames in the resident's frame: median distance
    between the animals' centroids and between their noses (px), and how far the other animal moves per frame
    relative to the resident (px). Two animals needed; {} otherwise."""
    if records[0].n_animals < 2:
        return {}
    frames = np.concatenate([np.stack([np.full(n, v), s + np.arange(n)], 1) for v, s, n in r.tolist()])
    if len(frames) > max_frames:
        frames = frames[(rng or np.random.default_rng(0)).choice(len(frames), max_frames, replace=False)]
    nose = front_and_back(records[0].bodyparts)[0]
    kp = np.stack([records[v].keypoints[t] for v, t in frames.tolist()]).astype(np.float64)  # (F, A, 2, K)
    nxt = np.stack([records[v].keypoints[min(t + 1, records[v].n_frames - 1)] for v, t in frames.tolist()])
    return {"apart_px": float(np.median(np.linalg.norm(kp[:, 0].mean(-1) - kp[:, 1].mean(-1), axis=-1))),
            "nose_nose_px": float(np.median(np.linalg.norm(kp[:, 0, :, nose] - kp[:, 1, :, nose], axis=-1))),
            "other_moves_px": float(np.median(np.linalg.norm(nxt[:, 1].mean(-1) - kp[:, 1].mean(-1), axis=-1)))}


def _write(cfg: DictionaryConfig, videos: Videos, records: list[PoseRecord], groups, out: Path) -> list[dict]:
    runs = runs_of(videos.units)
    table = unit_table(videos, runs)[:cfg.units or None]
    rng = np.random.default_rng(cfg.seed)
    (out / "movies").mkdir()
    (out / "trajectories").mkdir()
    for row in tqdm(table, desc="dictionary", leave=False):
        unit = row["unit"]
        chosen = pick_instances(runs[unit], cfg.instances, rng)
        titles = [f"{videos.ids[v][-12:]} {s / videos.fps:.1f}s" for v, s, _ in chosen.tolist()]
        frames = grid_frames(clips(records, chosen, cfg.movie_frames), records[0].bodyparts, titles=titles)
        row["movie"] = f"movies/unit_{unit:03d}.gif"
        save_gif(frames, out / row["movie"], videos.fps)
        row.update(posture(records, runs[unit], rng=rng))
        row["trajectory"] = f"trajectories/unit_{unit:03d}.png"
        mean_trajectory(records, runs[unit], out / row["trajectory"])
    keep = [r["unit"] for r in table[:cfg.graph_units]]
    probs = transitions(videos.units, keep)
    draw_transitions(keep, probs, {r["unit"]: r["share_pct"] for r in table}, out / "transitions.png")
    usage = usage_by_video(videos, [r["unit"] for r in table])
    _draw_usage(usage, videos.ids, [r["unit"] for r in table], out / "usage.png")
    result = {"level": videos.level, "config": asdict(cfg), "units": table,
              "transitions": {"units": keep, "probabilities": probs.round(4).tolist()},
              "usage": {"videos": videos.ids, "units": [r["unit"] for r in table], "shares": usage.round(5).tolist()}}
    if groups:
        result["group_tests"] = group_tests(usage, videos.ids, groups, [r["unit"] for r in table])
    write_json_atomic(out / "dictionary.json", result)
    (out / "dictionary.md").write_text(dictionary_markdown(result))
    return table


def _draw_usage(usage: np.ndarray, ids: list[str], units: list[int], path: Path) -> None:
    from behavior_tokens.data.plots import pyplot
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(6, 0.25 * len(units)), 1 + 0.35 * len(ids)))
    im = ax.imshow(100 * usage, aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(units)), units, fontsize=7)
    ax.set_yticks(range(len(ids)), [i[-20:] for i in ids], fontsize=7)
    ax.set_xlabel("unit (most used first)")
    fig.colorbar(im, ax=ax, label="% of the video's frames")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def unit_keys(table: list[dict]) -> list[str]:
    """The columns of the dictionary's table (those its rows have)."""
    first = table[0] if table else {}
    return ["unit", *(["reads as"] if "reads as" in first else []), "instances", "frames", "share_pct", "median_ms",
            *[k for k in POSTURE_KEYS if k in first], *[k for k in first if k.startswith("x ")]]


def dictionary_markdown(result: dict) -> str:
    table = result["units"]
    text = [f"## Token dictionary ({result['level']}, most used first; x BEHAVIOR: how many times more often the "
            "behavior occurs in the unit's frames than overall; reads as: the behavior it is most enriched for, the "
            "share of its frames labelled so, and the enrichment; apart_px / nose_nose_px: median distance between the "
            "animals' centroids / noses; other_moves_px: median motion of the other animal relative to the resident, "
            "per frame)\n",
            format_table(table, unit_keys(table))]
    if "group_tests" in result:
        groups = [k for k in result["group_tests"][0] if k.startswith("mean ")]
        text += ["\n\n### Usage across groups (Kruskal-Wallis per unit, q: Benjamini-Hochberg)\n",
                 format_table(sorted(result["group_tests"], key=lambda r: r["p"]), ["unit", "H", "p", "q", *groups])]
    return "\n".join(text) + "\n"


def egocentric_records(export: TokenExport, videos: Videos) -> list[PoseRecord]:
    """Every video of the export in the resident's frame, in the order of ``videos`` (read from its quantizer run)."""
    from behavior_tokens.quantize import load_quantizer
    from behavior_tokens.quantize.data import run_collection
    model, pipeline = load_quantizer(export.meta["checkpoint"], expect_sha256=export.meta["checkpoint_sha256"])
    coll, _ = run_collection(model.cfg, export.meta["source"] if export.meta["source"] != model.cfg.source else "")
    by_id = {(split, r.video_id): r for split, recs in coll.splits.items() for r in recs}
    return [pipeline.resident_frame(by_id[(s, v)]) for s, v in zip(videos.splits, videos.ids, strict=True)]
