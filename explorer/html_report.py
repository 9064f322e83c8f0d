"""The run as a static HTML page: a folder that opens from disk, no server needed.

``run/html/`` holds ``index.html`` and copies of every figure and movie it shows (training curves with
train and held-out loss, tables of every stage, probe confusion matrices, vocabulary quality, the token
dictionary with grid movies and mean trajectories, the transition graph, usage, surprisal timelines and
the fault table, search results, group comparison, generated samples), so the folder can be moved or
served (``python -m http.server``) as it is. A line at the end says, once the page has loaded, whether
every figure loaded.
"""

from __future__ import annotations

import html
import shutil
from pathlib import Path

from behavior_tokens.core.files import read_json, staged_output
from behavior_tokens.core.layout import EVAL_FILE, EXPORT_META, RunLayout
from behavior_tokens.core.tables import format_cell
from behavior_tokens.core.tracking import read_rows
from behavior_tokens.core.vocabulary import QUALITY_KEYS, quality_row
from behavior_tokens.lm.evaluate import comparison_rows
from behavior_tokens.lm.train import TABLE_KEYS as LM_KEYS

from .dictionary import POSTURE_KEYS
from .report import (
    GENERATION_CHECK_KEYS,
    GENERATION_FREQ_KEYS,
    JOB_KEYS,
    frequency_note,
    generation_rows,
    held_out_note,
    job_summary,
    labelled,
    no_labels,
    training_plot,
)

HTML_KIND = "html report"
CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}td,th{border:1px solid #ddd;padding:3px 7px;
text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}img{max-width:100%}
.units{display:grid;grid-template-columns:repeat(auto-fill,minmax(500px,1fr));gap:1.2em}.unit{border:1px solid #ddd;
padding:.6em;overflow-x:auto;min-width:0}.unit h3{margin:.2em 0}.unit table{font-size:11px}nav a{margin-right:1em}#load-check{color:#666;font-size:12px}"""
CHECK = """<script>window.addEventListener("load",()=>{const imgs=[...document.images];const bad=imgs.filter(
i=>!(i.complete&&i.naturalWidth>0)).map(i=>i.getAttribute("src"));const el=document.getElementById("load-check");
el.dataset.images=imgs.length;el.dataset.failed=bad.length;el.textContent=bad.length?`${bad.length} of
${imgs.length} figures failed to load: ${bad.join(", ")}`:`all ${imgs.length} figures loaded`;});</script>"""


def table(rows: list[dict], keys: list[str]) -> str:
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(format_cell(r.get(k)))}</td>" for k in keys) + "</tr>"
                   for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


class Page:
    """Sections of the page and the files they show, copied into the page's folder."""

    def __init__(self, root: Path, out: Path):
        self.root, self.out, self.sections = root, out, []

    def asset(self, path: Path) -> str:
        """Copy ``path`` (inside the run) next to the page; its relative address."""
        rel = path.relative_to(self.root)
        dst = self.out / "assets" / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dst)
        return f"assets/{rel.as_posix()}"

    def img(self, path: Path, alt: str, width: int | None = None) -> str:
        w = f' width="{width}"' if width else ""
        return f'<img src="{self.asset(path)}" alt="{html.escape(alt)}"{w} loading="lazy">'

    def add(self, anchor: str, title: str, body: str) -> None:
        self.sections.append((anchor, title, body))

    def render(self, title: str) -> str:
        nav = "".join(f'<a href="#{a}">{html.escape(t)}</a>' for a, t, _ in self.sections)
        parts = "".join(f'<section id="{a}"><h2>{html.escape(t)}</h2>{b}</section>' for a, t, b in self.sections)
        return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1><nav>{nav}</nav>{parts}"
                f"<p id='load-check'>loading figures</p>{CHECK}</body></html>")


def _stage_one(page: Page, lay: RunLayout) -> None:
    from behavior_tokens.quantize.train import TABLE_KEYS
    cfg = read_json(lay.config, "run config")
    rows = read_rows(lay.root)
    body = (f"<p>Source <code>{html.escape(cfg['source'])}</code>, {cfg['family']} encoder, G={cfg['groups']} x "
            f"V={cfg['codewords']}, window {cfg['window']}, {cfg['max_steps']} steps. "
            f"{html.escape(held_out_note(cfg))}</p>")
    plot = lay.quantizer_plot
    if training_plot(rows, plot, "recon_loss", "recon_loss", "quantizer: reconstruction", "reconstruction MSE"):
        body += page.img(plot, "quantizer training curves")
    body += table([r for r in rows if r["split"] != "train"], TABLE_KEYS)
    page.add("stage-one", "Stage one: the quantizer", body)


def _vocabulary(page: Page, lay: RunLayout) -> None:
    path = lay.vocabulary / "quality.json"
    if path.exists():
        q = read_json(path, "vocabulary quality")
        rows = [quality_row(name, v) for name, v in q["levels"].items()]
        note = f"<p>{no_labels('the columns that score units against labels are')}</p>" \
            if labelled(lay) is False else ""
        page.add("vocabulary", "Vocabulary quality", f"<p>{q['held_out_split']} videos; units counted on every "
                 "frame; lookup and bag-of-units balanced accuracy on its labelled frames.</p>" + note
                 + table(rows, QUALITY_KEYS))


def _dictionary(page: Page, lay: RunLayout, limit: int = 24) -> None:
    folder = lay.dictionary
    if not (folder / "dictionary.json").exists():
        return
    d = read_json(folder / "dictionary.json", "token dictionary")
    units = d["units"]
    enrich = [k for k in units[0] if k.startswith("x ")] if units else []
    cards = []
    for u in units[:limit]:
        stats = table([u], ["instances", "frames", "share_pct", "median_ms",
                            *[k for k in POSTURE_KEYS if k in u], *enrich])
        gist = f": {u['reads as']}" if u.get("reads as") else ""
        cards.append(f"<div class='unit'><h3>unit {u['unit']}{gist}</h3>{stats}{page.img(folder / u['movie'], 'grid movie')}"
                     f"<p>mean pose over the unit's runs (start to end):</p>{page.img(folder / u['trajectory'], 'mean')}</div>")
    body = (f"<p>{d['level']}, most used first; x BEHAVIOR: how many times more often the behavior occurs in the "
            f"unit's frames than overall. Each heading says what the unit reads as: the behavior it is most enriched "
            f"for, the share of its frames humans labelled so, and the enrichment; apart_px / nose_nose_px: median "
            f"distance between the animals' centroids / noses; other_moves_px: how far the other animal moves per "
            f"frame relative to the resident. Each movie shows up to {d['config']['instances']} real instances in the "
            f"resident's frame (blue: resident, orange: the other animal).</p><div class='units'>{''.join(cards)}</div>"
            f"<h3>Transitions</h3>{page.img(folder / 'transitions.png', 'transition graph')}"
            f"<h3>Usage per video</h3>{page.img(folder / 'usage.png', 'usage')}")
    if not enrich and labelled(lay) is False:
        body = f"<p>{no_labels('what each unit reads as, and its enrichment, are')}</p>" + body
    if "group_tests" in d:
        keys = ["unit", "H", "p", "q", *[k for k in d["group_tests"][0] if k.startswith("mean ")]]
        body += "<h3>Usage across groups</h3>" + table(sorted(d["group_tests"], key=lambda r: r["p"]), keys)
    page.add("dictionary", "Token dictionary", body)


def _gpt(page: Page, lay: RunLayout) -> None:
    if not (lay.lm / EVAL_FILE).exists():
        return
    ev = read_json(lay.lm / EVAL_FILE, "GPT evaluation")
    plot = lay.lm_plot
    body = page.img(plot, "GPT training curves") if training_plot(read_rows(lay.lm), plot, "loss", "nll",
                                                                 "GPT: next-token loss", "nats per token") else ""
    stop = ev.get("early_stopping")
    note = f" Early stopping on {stop['on']}: best at step {stop['best_step']} of {stop['stopped_at']}." if stop else ""
    body += (f"<p>Held-out split {ev['split']}, step {ev['step']}.{note}</p>"
             + table(comparison_rows(ev["gpt"], ev["baselines"]), LM_KEYS))
    page.add("gpt", "The GPT against n-grams", body)


def _probes(page: Page, lay: RunLayout) -> None:
    if not (lay.probe / "probe.json").exists() and labelled(lay) is False:
        page.add("probes", "Probes", f"<p>{no_labels('the probes are')}</p>")
    if (lay.probe / "probe.json").exists():
        from .probes import PROBE_KEYS
        res = read_json(lay.probe / "probe.json", "probe results")
        page.add("probes", "Probes", f"<p>{res['held_out_split']} videos.</p>" + table(res["results"], PROBE_KEYS)
                 + page.img(lay.probe / "confusion.png", "confusion matrices"))


def _surprisal(page: Page, lay: RunLayout) -> None:
    folder = lay.surprisal
    if (folder / "surprisal.json").exists():
        from .surprisal import FAULT_KEYS
        s = read_json(folder / "surprisal.json", "surprisal")
        body = (f"<p>Frame-level ROC AUC of the surprisal ({s['config']['smooth_seconds']:g} s mean) under the GPT and "
                f"the {s['ngram']}, and of a speed z-score, on {s['held_out_split']} videos with injected faults.</p>"
                + table(s["faults"], FAULT_KEYS)
                + "".join(page.img(folder / t["image"], t["video"]) for t in s["timelines"]))
        page.add("surprisal", "Surprisal", body)


def _search(page: Page, lay: RunLayout) -> None:
    root = lay.search
    found = sorted(root.glob("*/results.json")) if root.is_dir() else []
    if found:
        from .search import RESULT_KEYS
        body = ""
        for path in found:
            r = read_json(path, "search results")
            body += f"<h3>{html.escape(r['query'])} ({r['matches']} matches)</h3>" + table(r["results"], RESULT_KEYS)
            if r.get("movie"):
                body += page.img(path.parent / r["movie"], "search results")
        page.add("search", "Search", body)


def _groups(page: Page, lay: RunLayout) -> None:
    folder = lay.groups
    if (folder / "groups.json").exists():
        g = read_json(folder / "groups.json", "group comparison")
        a, b = g["groups"]
        keys = ["video", "group", f"bits_per_s {a}", f"bits_per_s {b}", "llr_bits_per_s"]
        page.add("groups", "Groups by likelihood", f"<p>ROC AUC {g['auc']:.3f}, Mann-Whitney p "
                 f"{g['mann_whitney_p']:.3g}.</p>" + table(g["videos"], keys) + page.img(folder / "groups.png", "groups"))


def _samples(page: Page, lay: RunLayout) -> None:
    pngs = sorted(lay.samples.glob("*.png"))
    if not pngs:
        return
    body = ""
    if (lay.samples / "generation_eval.json").exists():
        ev = read_json(lay.samples / "generation_eval.json", "generation checks")
        checks, freqs = generation_rows(ev)
        body += ("<p>Real: the held-out videos as tracked (raw), or encoded and decoded by the quantizer "
                 "(reconstructed, with the decoder's own noise, as the samples have).</p>"
                 + table(checks, GENERATION_CHECK_KEYS))
        if freqs:
            body += f"<p>{html.escape(frequency_note(ev))}</p>" + table(freqs, GENERATION_FREQ_KEYS)
        elif labelled(lay) is False:
            body += f"<p>{no_labels('the behavior frequencies of the samples are')}</p>"
    for p in pngs:
        body += page.img(p, p.stem)
        if p.with_suffix(".gif").exists():
            body += page.img(p.with_suffix(".gif"), p.stem + " animation", width=360)
    page.add("samples", "Generated behavior", body)


def _codebook(page: Page, lay: RunLayout) -> None:
    cb = lay.codebook
    if (cb / "analysis.json").exists():
        from behavior_tokens.quantize.analysis import USAGE_KEYS
        a = read_json(cb / "analysis.json", "codebook analysis")
        page.add("codebook", "Codebook", table(a["usage"], USAGE_KEYS)
                 + "".join(page.img(p, p.stem) for p in sorted(cb.glob("*.png"))))


def build_html(run: str | Path) -> Path:
    """Write ``run/html/index.html`` and its assets from what the run folder holds; returns the page."""
    lay = RunLayout(Path(run))
    with staged_output(lay.html, HTML_KIND, overwrite=True) as out:
        page = Page(lay.root, out)
        _sections(page, lay)
        (out / "index.html").write_text(page.render(f"behavior-tokens: {lay.root.name}"))
    return lay.html / "index.html"


def _job(page: Page, lay: RunLayout) -> None:
    summary = job_summary(lay)
    if summary is not None:
        page.add("job", "The job", f"<p>{html.escape(summary[0])}</p>" + table(summary[1], JOB_KEYS))


def _sections(page: Page, lay: RunLayout) -> None:
    _job(page, lay)
    _stage_one(page, lay)
    if (lay.tokens / EXPORT_META).exists():
        meta = read_json(lay.tokens / EXPORT_META, "export record")
        syl = meta.get("syllables")
        page.add("export", "Token export", f"<p>{meta['fps']:g} fps, vocabulary {html.escape(str(meta['vocab']))}"
                 + (f"; syllable level: {syl['units']} units, switch cost {syl['switch_cost']:.3g}" if syl else "")
                 + ".</p>")
    for section in (_vocabulary, _dictionary, _gpt, _probes, _surprisal, _search, _groups, _samples, _codebook):
        section(page, lay)
