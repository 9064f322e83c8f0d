"""The run as a static HTML page: a folder that opens from disk, no server needed.

``run/html/`` holds ``index.html`` and copies of every figure and movie it shows (training curves with
train and held-out loss, tables of every stage, probe confusion matrices, vocabulary quality, the token
dictionary with grid movies and mean trajectories, the transition graph, usage, surprisal timelines and
the fault table, search results, group comparison, generated samples), so the folder can be moved or
served (``python -m http.server``) as it is. A line at the end says, once the page has loaded, whether
every figure loaded.

Every piece of the page is rendered by Jinja2 with autoescaping: text that comes from data (behavior, video,
animal and part names, queries, paths) is escaped wherever it is shown, so a label file that holds markup cannot
put live markup or script into the page. Only what a template renders is trusted (``Markup``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

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
CHECK = """window.addEventListener("load",()=>{const imgs=[...document.images];const bad=imgs.filter(
i=>!(i.complete&&i.naturalWidth>0)).map(i=>i.getAttribute("src"));const el=document.getElementById("load-check");
el.dataset.images=imgs.length;el.dataset.failed=bad.length;el.textContent=bad.length?`${bad.length} of
${imgs.length} figures failed to load: ${bad.join(", ")}`:`all ${imgs.length} figures loaded`;});"""

ENV = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
ENV.filters["cell"] = format_cell
TEMPLATES = {name: ENV.from_string(text) for name, text in {
    "page": """<!doctype html><html><head><meta charset="utf-8"><title>{{ title }}</title>
<style>{{ css }}</style></head><body><h1>{{ title }}</h1>
<nav>{% for anchor, heading, _ in sections %}<a href="#{{ anchor }}">{{ heading }}</a>{% endfor %}</nav>
{% for anchor, heading, body in sections %}<section id="{{ anchor }}"><h2>{{ heading }}</h2>{{ body }}</section>
{% endfor %}<p id="load-check">loading figures</p><script>{{ check }}</script></body></html>""",
    "table": """<table><tr>{% for k in keys %}<th>{{ k }}</th>{% endfor %}</tr>
{% for r in rows %}<tr>{% for k in keys %}<td>{{ r.get(k) | cell }}</td>{% endfor %}</tr>{% endfor %}</table>""",
    "img": """<img src="{{ src }}" alt="{{ alt }}"{% if width %} width="{{ width }}"{% endif %} loading="lazy">""",
    "p": "<p>{{ text }}</p>",
    "h3": "<h3>{{ text }}</h3>",
    "unit": """<div class="unit"><h3>unit {{ u.unit }}{% if u.get("reads as") %}: {{ u["reads as"] }}{% endif %}</h3>
{{ stats }}{{ movie }}<p>mean pose over the unit's runs (start to end):</p>{{ trajectory }}</div>""",
}.items()}


def render(name: str, **values) -> Markup:
    """A piece of the page from its template, every value escaped unless it is already rendered ``Markup``."""
    return Markup(TEMPLATES[name].render(**values))


def table(rows: list[dict], keys: list[str]) -> Markup:
    return render("table", rows=rows, keys=keys)


def p(text: str) -> Markup:
    return render("p", text=text)


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

    def img(self, path: Path, alt: str, width: int | None = None) -> Markup:
        return render("img", src=self.asset(path), alt=alt, width=width)

    def add(self, anchor: str, title: str, *body: Markup) -> None:
        self.sections.append((anchor, title, Markup("").join(body)))

    def render(self, title: str) -> str:
        return render("page", title=title, css=Markup(CSS), check=Markup(CHECK), sections=self.sections)


def _stage_one(page: Page, lay: RunLayout) -> None:
    from behavior_tokens.quantize.train import TABLE_KEYS
    cfg = read_json(lay.config, "run config")
    rows = read_rows(lay.root)
    body = [p(f"Source {cfg['source']}, {cfg['family']} encoder, G={cfg['groups']} x V={cfg['codewords']}, window "
              f"{cfg['window']}, {cfg['max_steps']} steps. {held_out_note(cfg)}")]
    plot = lay.quantizer_plot
    if training_plot(rows, plot, "recon_loss", "recon_loss", "quantizer: reconstruction", "reconstruction MSE"):
        body.append(page.img(plot, "quantizer training curves"))
    page.add("stage-one", "Stage one: the quantizer", *body, table([r for r in rows if r["split"] != "train"],
                                                                    TABLE_KEYS))


def _vocabulary(page: Page, lay: RunLayout) -> None:
    path = lay.vocabulary / "quality.json"
    if path.exists():
        q = read_json(path, "vocabulary quality")
        rows = [quality_row(name, v) for name, v in q["levels"].items()]
        note = [p(no_labels("the columns that score units against labels are"))] if labelled(lay) is False else []
        page.add("vocabulary", "Vocabulary quality", p(f"{q['held_out_split']} videos; units counted on every frame; "
                 "lookup and bag-of-units balanced accuracy on its labelled frames."), *note, table(rows, QUALITY_KEYS))


DICTIONARY_NOTE = ("{level}, most used first; x BEHAVIOR: how many times more often the behavior occurs in the unit's "
                   "frames than overall. Each heading says what the unit reads as: the behavior it is most enriched "
                   "for, the share of its frames humans labelled so, and the enrichment; apart_px / nose_nose_px: "
                   "median distance between the animals' centroids / noses; other_moves_px: how far the other animal "
                   "moves per frame relative to the resident. Each movie shows up to {instances} real instances in "
                   "the resident's frame (blue: resident, orange: the other animal).")


def _dictionary(page: Page, lay: RunLayout, limit: int = 24) -> None:
    folder = lay.dictionary
    if not (folder / "dictionary.json").exists():
        return
    d = read_json(folder / "dictionary.json", "token dictionary")
    units = d["units"]
    enrich = [k for k in units[0] if k.startswith("x ")] if units else []
    cards = [render("unit", u=u, stats=table([u], ["instances", "frames", "share_pct", "median_ms",
                                                   *[k for k in POSTURE_KEYS if k in u], *enrich]),
                    movie=page.img(folder / u["movie"], "grid movie"),
                    trajectory=page.img(folder / u["trajectory"], "mean pose")) for u in units[:limit]]
    body = [p(no_labels("what each unit reads as, and its enrichment, are"))] \
        if not enrich and labelled(lay) is False else []
    body += [p(DICTIONARY_NOTE.format(level=d["level"], instances=d["config"]["instances"])),
             Markup('<div class="units">') + Markup("").join(cards) + Markup("</div>"),
             render("h3", text="Transitions"), page.img(folder / "transitions.png", "transition graph"),
             render("h3", text="Usage per video"), page.img(folder / "usage.png", "usage")]
    if "group_tests" in d:
        keys = ["unit", "H", "p", "q", *[k for k in d["group_tests"][0] if k.startswith("mean ")]]
        body += [render("h3", text="Usage across groups"), table(sorted(d["group_tests"], key=lambda r: r["p"]), keys)]
    page.add("dictionary", "Token dictionary", *body)


def _gpt(page: Page, lay: RunLayout) -> None:
    if not (lay.lm / EVAL_FILE).exists():
        return
    ev = read_json(lay.lm / EVAL_FILE, "GPT evaluation")
    plot = lay.lm_plot
    body = [page.img(plot, "GPT training curves")] if training_plot(
        read_rows(lay.lm), plot, "loss", "nll", "GPT: next-token loss", "nats per token") else []
    stop = ev.get("early_stopping")
    note = f" Early stopping on {stop['on']}: best at step {stop['best_step']} of {stop['stopped_at']}." if stop else ""
    page.add("gpt", "The GPT against n-grams", *body, p(f"Held-out split {ev['split']}, step {ev['step']}.{note}"),
             table(comparison_rows(ev["gpt"], ev["baselines"]), LM_KEYS))


def _probes(page: Page, lay: RunLayout) -> None:
    if not (lay.probe / "probe.json").exists() and labelled(lay) is False:
        page.add("probes", "Probes", p(no_labels("the probes are")))
    if (lay.probe / "probe.json").exists():
        from .probes import PROBE_KEYS
        res = read_json(lay.probe / "probe.json", "probe results")
        page.add("probes", "Probes", p(f"{res['held_out_split']} videos."), table(res["results"], PROBE_KEYS),
                 page.img(lay.probe / "confusion.png", "confusion matrices"))


def _surprisal(page: Page, lay: RunLayout) -> None:
    folder = lay.surprisal
    if (folder / "surprisal.json").exists():
        from .surprisal import FAULT_KEYS
        s = read_json(folder / "surprisal.json", "surprisal")
        page.add("surprisal", "Surprisal", p(f"Frame-level ROC AUC of the surprisal ({s['config']['smooth_seconds']:g} "
                 f"s mean) under the GPT and the {s['ngram']}, and of a speed z-score, on {s['held_out_split']} videos "
                 "with injected faults."), table(s["faults"], FAULT_KEYS),
                 *(page.img(folder / t["image"], t["video"]) for t in s["timelines"]))


def _search(page: Page, lay: RunLayout) -> None:
    root = lay.search
    found = sorted(root.glob("*/results.json")) if root.is_dir() else []
    if found:
        from .search import RESULT_KEYS
        body = []
        for path in found:
            r = read_json(path, "search results")
            body += [render("h3", text=f"{r['query']} ({r['matches']} matches)"), table(r["results"], RESULT_KEYS)]
            if r.get("movie"):
                body.append(page.img(path.parent / r["movie"], "search results"))
        page.add("search", "Search", *body)


def _groups(page: Page, lay: RunLayout) -> None:
    folder = lay.groups
    if (folder / "groups.json").exists():
        g = read_json(folder / "groups.json", "group comparison")
        a, b = g["groups"]
        keys = ["video", "group", f"bits_per_s {a}", f"bits_per_s {b}", "llr_bits_per_s"]
        page.add("groups", "Groups by likelihood", p(f"ROC AUC {g['auc']:.3f}, Mann-Whitney p "
                 f"{g['mann_whitney_p']:.3g}."), table(g["videos"], keys), page.img(folder / "groups.png", "groups"))


def _samples(page: Page, lay: RunLayout) -> None:
    pngs = sorted(lay.samples.glob("*.png"))
    if not pngs:
        return
    body = []
    if (lay.samples / "generation_eval.json").exists():
        ev = read_json(lay.samples / "generation_eval.json", "generation checks")
        checks, freqs = generation_rows(ev)
        body += [p("Real: the held-out videos as tracked (raw), or encoded and decoded by the quantizer "
                   "(reconstructed, with the decoder's own noise, as the samples have)."),
                 table(checks, GENERATION_CHECK_KEYS)]
        if freqs:
            body += [p(frequency_note(ev)), table(freqs, GENERATION_FREQ_KEYS)]
        elif labelled(lay) is False:
            body.append(p(no_labels("the behavior frequencies of the samples are")))
    for png in pngs:
        body.append(page.img(png, png.stem))
        if png.with_suffix(".gif").exists():
            body.append(page.img(png.with_suffix(".gif"), png.stem + " animation", width=360))
    page.add("samples", "Generated behavior", *body)


def _codebook(page: Page, lay: RunLayout) -> None:
    cb = lay.codebook
    if (cb / "analysis.json").exists():
        from behavior_tokens.quantize.analysis import USAGE_KEYS
        a = read_json(cb / "analysis.json", "codebook analysis")
        page.add("codebook", "Codebook", table(a["usage"], USAGE_KEYS),
                 *(page.img(png, png.stem) for png in sorted(cb.glob("*.png"))))


def _job(page: Page, lay: RunLayout) -> None:
    summary = job_summary(lay)
    if summary is not None:
        page.add("job", "The job", p(summary[0]), table(summary[1], JOB_KEYS))


def _export(page: Page, lay: RunLayout) -> None:
    if (lay.tokens / EXPORT_META).exists():
        meta = read_json(lay.tokens / EXPORT_META, "export record")
        syl = meta.get("syllables")
        page.add("export", "Token export", p(f"{meta['fps']:g} fps, vocabulary {meta['vocab']}" + (
            f"; syllable level: {syl['units']} units, switch cost {syl['switch_cost']:.3g}" if syl else "") + "."))


def build_html(run: str | Path) -> Path:
    """Write ``run/html/index.html`` and its assets from what the run folder holds; returns the page."""
    lay = RunLayout(Path(run))
    with staged_output(lay.html, HTML_KIND, overwrite=True) as out:
        page = Page(lay.root, out)
        for section in (_job, _stage_one, _export, _vocabulary, _dictionary, _gpt, _probes, _surprisal, _search,
                        _groups, _samples, _codebook):
            section(page, lay)
        (out / "index.html").write_text(page.render(f"behavior-tokens: {lay.root.name}"))
    return lay.html / "index.html"
