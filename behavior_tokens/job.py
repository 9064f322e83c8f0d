"""The main job: every stage from pose files to the report, from one job file, continued where it stopped.

    behavior-tokens run SOURCE RUN_DIR [--config JOB.json] [--fps 30] [--test_videos V ...] [--holdout_fraction 0.2]

A job file (JSON) has one section per stage, each holding flags of that stage's command: ``quantizer``
(train-quantizer), ``export``, ``syllables`` and ``tokenizer`` (export-tokens), ``lm`` (train-lm), ``generate``,
``probe``, ``vocabulary`` (vocabulary-quality), ``dictionary``, ``surprisal`` and ``codebook`` (analyze-codebook).
The preset (``behavior_tokens/preset.json``) is the default; a file given with ``--config`` changes what it names.
The run records the job as run in ``RUN_DIR/job.json`` (copy it to start another job like it) and what each stage
did in ``RUN_DIR/job_status.json``.

Run again, the job makes only what is not there and whole, stage by stage: a quantizer that loads, an export whose
files match their recorded hashes and whose recorded weights are the quantizer's, a GPT that loads with its
evaluation and was trained on the export as it is, a finished folder of each later stage (made again once any stage
before it ran). A training stage resumes from its last checkpoint. A job file that differs from the run's is refused
(``--overwrite`` replaces the run).

On small recordings the job fits what the preset asks to what the data holds, and says so in job_status.json: a
batch no larger than the training windows or blocks, GPT blocks that fit the training tokens, a prompt no longer
than half the prompt video. Labels are read only to evaluate: a source without them runs every stage but the
probes.
"""

from __future__ import annotations

import sys
import time
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import ClassVar

from behavior_tokens.core.config import Config, option
from behavior_tokens.core.errors import ArtifactError, BehaviorTokensError, ConfigError
from behavior_tokens.core.files import (
    discard_replaced,
    file_sha256,
    marker_kind,
    prepare_run_dir,
    read_json,
    write_json_atomic,
    write_marker,
)
from behavior_tokens.core.layout import MODEL_DIR, MODEL_FILE, RunLayout
from behavior_tokens.core.memory import PeakMemory
from behavior_tokens.core.tables import format_table

PRESET = Path(__file__).with_name("preset.json")
SECTIONS = {  # job-file section -> "module:Config" of the stage command it configures
    "quantizer": "quantize:QuantizerConfig", "export": "quantize.export:ExportConfig",
    "syllables": "quantize.syllables:SyllableConfig", "tokenizer": "lm.tokenizer:TokenizerConfig",
    "lm": "lm:LMConfig", "generate": "generation:GenerateConfig", "probe": "explorer.probes:ProbeConfig",
    "vocabulary": "explorer.vocabulary:QualityConfig", "dictionary": "explorer.dictionary:DictionaryConfig",
    "surprisal": "explorer.surprisal:SurprisalConfig", "codebook": "quantize.analysis:AnalysisConfig",
}
# Fields the job sets itself: where each stage reads and writes (a job file may not name them).
SET_BY_JOB = {"output_dir", "checkpoint", "tokens", "lm", "quantizer", "run", "resume", "overwrite", "push_to_hub"}
SOURCE_FLAGS = ("fps", "pose_format", "test_videos", "holdout_fraction", "axis_from", "axis_to", "anchor")


def _load(spec: str):
    import importlib
    module, name = spec.split(":")
    return getattr(importlib.import_module(f"behavior_tokens.{module}"), name)


@dataclass
class RunJobConfig(Config):
    source: str = option(help="the pose source: 'synthetic', a pose file or a folder of them, a dlc/ + boris/ folder")
    run_dir: str = option(help="the run folder (made, or continued where it stopped)")
    config: str = option("", help="a job file (JSON, one section per stage; default: the preset, "
                         "behavior_tokens/preset.json; RUN_DIR/job.json of another run is one)")
    # each flag below, where given, sets its field of the job's quantizer section (the run records it in job.json)
    fps: float | None = option(None, gt=0, help="frame rate of pose files that do not state it")
    pose_format: str | None = option(None, help="format of the pose files (default: recognised by their content)")
    test_videos: list[str] | None = option(None, help="videos held out (default: the end of the recording, "
                                           "--holdout_fraction)")
    holdout_fraction: float | None = option(None, ge=0, le=0.9, help="where nothing is held out: the share of the "
                                            "recording held out, its end (default 0.2; 0: none)")
    axis_from: str | None = option(None, help="the part the body axis runs from (default: chosen from the names)")
    axis_to: str | None = option(None, help="the part the body axis runs to (default: chosen from the names)")
    anchor: str | None = option(None, help="the part held at the origin (default: --axis_to)")
    overwrite: bool = option(False, help="replace a run made with another job (only a run this project made)")


def read_job_file(path: Path, base: dict | None = None) -> dict:
    """A job file's sections over ``base`` (each section field by field); unknown sections or fields, and fields the
    job sets itself, are refused naming the file."""
    job = {k: dict(v) for k, v in (base or {}).items()}
    given = read_json(path, "job file")
    if not isinstance(given, dict):
        raise ArtifactError(str(path), "not a job file: a JSON object of sections", "see behavior_tokens/preset.json")
    for section, values in given.items():
        if section not in SECTIONS:
            raise ConfigError(str(path), f"no section {section!r} (sections: {', '.join(SECTIONS)})",
                              "name sections as behavior_tokens/preset.json does")
        known = {f.name for f in fields(_load(SECTIONS[section])) if f.init} - SET_BY_JOB
        if not isinstance(values, dict) or set(values) - known:
            bad = sorted(set(values) - known) if isinstance(values, dict) else values
            raise ConfigError(str(path), f"section {section!r}: no field {bad} a job may set",
                              f"its fields: {', '.join(sorted(known))}")
        job.setdefault(section, {}).update(values)
    return job


def resolve_job(cfg: RunJobConfig) -> dict:
    """The job to run: the preset, the job file over it, the command's source flags over both; every section
    checked as its command would check it."""
    job = read_job_file(PRESET)
    if cfg.config:
        job = read_job_file(Path(cfg.config), job)
    quantizer = job.setdefault("quantizer", {})
    quantizer["source"] = cfg.source
    for name in SOURCE_FLAGS:
        if getattr(cfg, name) is not None:
            quantizer[name] = getattr(cfg, name)
    for section in SECTIONS:
        job.setdefault(section, {})
        cls = _load(SECTIONS[section])
        required = {f.name: "" for f in fields(cls) if f.init and f.default is MISSING and f.default_factory is MISSING}
        try:  # as its command would check it (the fields the job sets are filled in when the stage runs)
            cls(**{**required, **job[section]}).validate()
        except (ConfigError, TypeError) as e:
            raise ConfigError(cfg.config or str(PRESET), f"section {section!r}: {e}", "fix the job file") from None
    return job


@dataclass
class Job:
    """A main job under way: its sections, its run folder, and what its stages did."""

    sections: dict
    layout: RunLayout
    status: dict = field(default_factory=dict)  # stage -> {"seconds", "adapted", "note", ...}
    fresh: bool = False  # a stage ran in this invocation: a later one whose outputs cannot vouch for it runs again

    def config(self, section: str, **fixed):
        cfg = _load(SECTIONS[section])(**{**self.sections[section], **fixed})
        cfg.validate()
        return cfg

    def adapt(self, stage: str, what: str, asked, used) -> None:
        """Record that ``stage`` uses ``used`` where the job asked ``asked`` (the data holds too little)."""
        if used != asked:
            self.status.setdefault(stage, {}).setdefault("adapted", {})[what] = {"asked": asked, "used": used}

    def note(self, stage: str, text: str) -> None:
        self.status.setdefault(stage, {})["note"] = text

    def save_status(self) -> None:
        write_json_atomic(self.layout.job_status, self.status)


class Stage:
    """One stage of the main job: whether its outputs are there and whole, and how to make them."""

    name: ClassVar[str]
    kind: ClassVar[str] = ""  # the marker of the stage's output folder (a folder is swapped in only when finished)
    result: ClassVar[str] = ""  # a file every finished folder of the stage holds

    def folder(self, layout: RunLayout) -> Path:
        return getattr(layout, self.name)

    def wanted(self, job: Job) -> bool:
        return True

    def done(self, job: Job) -> bool:
        """A finished folder of the stage's, made from what the earlier stages hold now (none of them ran since)."""
        folder = self.folder(job.layout)
        return not job.fresh and marker_kind(folder) == self.kind and (folder / self.result).exists()

    def run(self, job: Job) -> None:
        raise NotImplementedError


class QuantizerStage(Stage):
    name = "quantizer"

    def folder(self, layout):
        return layout.root

    def done(self, job):
        try:
            _load("quantize:load_quantizer")(job.layout.root)
        except BehaviorTokensError:
            return False
        return True

    def run(self, job):
        from behavior_tokens.core.checkpoint import latest_checkpoint
        from behavior_tokens.core.layout import CONFIG_FILE
        root = job.layout.root
        checkpoint = latest_checkpoint(root)
        stopped_early = checkpoint is None and (root / CONFIG_FILE).exists()  # before its first checkpoint
        cfg = job.config("quantizer", output_dir=str(root), resume=checkpoint is not None, overwrite=stopped_early)
        windows = job.status["data"]["training_windows"]
        if windows < cfg.batch_size:
            job.adapt(self.name, "batch_size", cfg.batch_size, windows)
            cfg.batch_size = windows
        _load("quantize:train_quantizer")(cfg)


class TokensStage(Stage):
    name = "tokens"

    def done(self, job):
        try:
            export = _load("lm:load_token_export")(job.layout.tokens)
            return export.meta["checkpoint_sha256"] == file_sha256(job.layout.root / MODEL_DIR / MODEL_FILE)
        except (BehaviorTokensError, OSError, KeyError):
            return False

    def run(self, job):
        export_cfg = job.config("export", checkpoint=str(job.layout.root), output_dir=str(job.layout.tokens),
                                overwrite=True)
        _load("lm.tokenizer:export_with_tokenizer")(export_cfg, job.config("tokenizer"),
                                                    job.config("syllables") if export_cfg.syllables else None)


class LMStage(Stage):
    name = "lm"

    def done(self, job):
        from behavior_tokens.core.layout import EVAL_FILE
        try:
            trained = _load("lm:load_lm")(job.layout.lm)[2]
            export = _load("lm:load_token_export")(job.layout.tokens)
        except BehaviorTokensError:
            return False
        return (job.layout.lm / EVAL_FILE).exists() and trained.export_fingerprint == export.fingerprint

    def run(self, job):
        from behavior_tokens.core.checkpoint import latest_checkpoint
        lm = job.layout.lm
        checkpoint = None if job.fresh else latest_checkpoint(lm)  # a run on tokens made again starts over
        cfg = job.config("lm", tokens=str(job.layout.tokens), output_dir=str(lm), resume=checkpoint is not None,
                         overwrite=checkpoint is None and lm.exists())
        fit_lm_to_stream(job, cfg)
        _load("lm:train_lm")(cfg)


def fit_lm_to_stream(job: Job, cfg) -> None:
    """GPT blocks and batches that the training tokens can fill: the block halved (down to 8 tokens) until the
    stream, less its early-stopping part, gives a batch of blocks; the batch no larger than the blocks there are."""
    from behavior_tokens.lm import load_token_export, split_stream
    from behavior_tokens.lm.data import block_windows
    n = len(split_stream(load_token_export(cfg.tokens), cfg.train_splits).ids)
    block, stride = cfg.block_size, cfg.block_stride

    def blocks(b: int) -> int:
        kept = n - max(b + 1, int(cfg.stop_fraction * n)) if cfg.patience else n
        return block_windows(kept, b, min(stride, b) if stride else b)

    while block > 8 and blocks(block) < cfg.batch_size:
        block //= 2
    if blocks(block) < 1:
        raise ConfigError(cfg.tokens, f"the training videos make {n} tokens, too few for a GPT block of {block}",
                          "record more behavior, or make syllables shorter (syllables.target_median_ms)")
    job.adapt("lm", "block_size", cfg.block_size, block)
    if stride > block:
        job.adapt("lm", "block_stride", stride, block)
        cfg.block_stride = block
    cfg.block_size = block
    batch = min(cfg.batch_size, blocks(block))
    job.adapt("lm", "batch_size", cfg.batch_size, batch)
    cfg.batch_size = batch


class SamplesStage(Stage):
    name, result = "samples", "generate_config.json"
    kind = "generated samples"

    def run(self, job):
        cfg = job.config("generate", lm=str(job.layout.lm), output_dir=str(job.layout.samples), overwrite=True)
        longest = job.status["data"]["prompt_video_seconds"] / 2  # a prompt is at most half of the prompt video
        if cfg.prompt_seconds > longest:
            job.adapt(self.name, "prompt_seconds", cfg.prompt_seconds, round(longest, 3))
            cfg.prompt_seconds = round(longest, 3)
        _load("generation:generate_behavior")(cfg)


class ProbeStage(Stage):
    name, kind, result = "probe", "probes", "probe.json"

    def wanted(self, job):
        return job.status["data"]["labelled"]

    def run(self, job):
        _load("explorer.probes:probe")(job.config("probe", quantizer=str(job.layout.root), lm=str(job.layout.lm),
                                                  tokens=str(job.layout.tokens), output_dir=str(job.layout.probe),
                                                  overwrite=True))


class VocabularyStage(Stage):
    name, kind, result = "vocabulary", "vocabulary quality", "quality.json"

    def run(self, job):
        _load("explorer.vocabulary:vocabulary_table")(job.config("vocabulary", tokens=str(job.layout.tokens),
                                                                 output_dir=str(job.layout.vocabulary), overwrite=True))


class DictionaryStage(Stage):
    name, kind, result = "dictionary", "token dictionary", "dictionary.json"

    def run(self, job):
        _load("explorer.dictionary:build_dictionary")(job.config("dictionary", tokens=str(job.layout.tokens),
                                                                 output_dir=str(job.layout.dictionary),
                                                                 overwrite=True))


class SurprisalStage(Stage):
    name, kind, result = "surprisal", "surprisal", "surprisal.json"

    def run(self, job):
        _load("explorer.surprisal:surprisal_report")(job.config("surprisal", lm=str(job.layout.lm),
                                                                output_dir=str(job.layout.surprisal), overwrite=True))


class CodebookStage(Stage):
    name, kind, result = "codebook", "codebook analysis", "analysis.json"

    def run(self, job):
        _load("quantize.analysis:analyze_codebook")(job.config("codebook", run=str(job.layout.root),
                                                               output_dir=str(job.layout.codebook), overwrite=True))


class ReportStage(Stage):
    name = "report"

    def done(self, job):
        return not job.fresh and job.layout.report.exists() and (job.layout.html / "index.html").exists()

    def run(self, job):
        _load("explorer.report:build_report")(job.layout.root)
        _load("explorer.html_report:build_html")(job.layout.root)


STAGES: list[Stage] = [QuantizerStage(), TokensStage(), LMStage(), SamplesStage(), ProbeStage(), VocabularyStage(),
                       DictionaryStage(), SurprisalStage(), CodebookStage(), ReportStage()]


def read_source(job: Job) -> dict:
    """Read the job's source as stage one will read it (a bad source ends the job here, before anything is
    written): what it holds, how its held-out videos were chosen, and what the stages size themselves by."""
    from behavior_tokens.quantize.data import run_collection
    qcfg = job.config("quantizer", output_dir=str(job.layout.root))
    coll, held = run_collection(qcfg)
    train = coll.splits.get("train", [])
    if not train:
        raise ConfigError("--test_videos", f"no training video is left in {qcfg.source}", "hold out fewer videos")
    return {"videos": {s: [r.video_id for r in recs] for s, recs in coll.splits.items()},
            "frames": {s: sum(r.n_frames for r in recs) for s, recs in coll.splits.items()},
            "held_out_split": held, "held_out": coll.held_out or "the source's own held-out split",
            "animals": train[0].n_animals, "bodyparts": list(train[0].bodyparts), "fps": coll.fps,
            "labelled": any(r.labelled for r in train) and any(r.labelled for r in coll[held]),
            "training_windows": sum(max(0, (r.n_frames - qcfg.input_length) // qcfg.stride + 1) for r in train),
            "prompt_video_seconds": coll[held][0].n_frames / coll.fps}


def _open(layout: RunLayout, sections: dict, overwrite: bool) -> tuple[dict, Path | None]:
    """Make the run folder (or check it holds this job) and record the job in it: (the status of an earlier
    invocation of this job, the run set aside by --overwrite)."""
    root = layout.root
    if layout.job.exists():
        earlier = read_json(layout.job, "job file")
        if earlier == sections:
            return (read_json(layout.job_status, "job status") if layout.job_status.exists() else {}), None
        if not overwrite:
            section, key = _first_difference(earlier, sections)
            there, now = (_shown(d.get(section, {}), key) for d in (earlier, sections))
            raise ConfigError(str(layout.job), f"the run was made with another job ({section}.{key}: {there} there, "
                              f"{now} now)", "run it in another folder, or pass --overwrite to replace the run")
    elif root.exists() and any(root.iterdir()) and not overwrite:
        raise ConfigError(str(root), "the folder holds something other than a main job",
                          "choose another folder, or pass --overwrite to replace a run this project made")
    aside = prepare_run_dir(root, "quantizer run", resume=False, overwrite=overwrite) if root.exists() else None
    root.mkdir(parents=True, exist_ok=True)
    write_marker(root, "quantizer run")
    write_json_atomic(layout.job, sections)
    return {}, aside


def _shown(section: dict, key: str) -> str:
    return repr(section[key]) if key in section else "not set"


def _first_difference(a: dict, b: dict) -> tuple[str, str]:
    for section in sorted(set(a) | set(b)):
        x, y = a.get(section, {}), b.get(section, {})
        for key in sorted(set(x) | set(y)):
            if x.get(key) != y.get(key):
                return section, key
    return "", ""


def run_job(cfg: RunJobConfig) -> dict:
    """Run (or continue) the main job ``cfg`` names; returns its status (job_status.json)."""
    cfg.validate()
    sections = resolve_job(cfg)
    job = Job(sections, RunLayout(cfg.run_dir))
    start = time.perf_counter()
    with PeakMemory() as memory:
        data = read_source(job)
    data.update(seconds=round(time.perf_counter() - start, 1), peak_mb=memory.peak_mb)
    status, aside = _open(job.layout, sections, cfg.overwrite)
    job.status = {**status, "data": data, "order": [stage.name for stage in STAGES]}
    for i, stage in enumerate(STAGES, start=1):
        head = f"[{i}/{len(STAGES)}] {stage.name}"
        if not stage.wanted(job):
            job.note(stage.name, "left out: the training or held-out videos hold no labelled frame")
            print(f"{head}: left out (no labels)", flush=True)
            continue
        if stage.done(job):
            print(f"{head}: done", flush=True)
            continue
        print(f"{head} ...", flush=True)
        start = time.perf_counter()
        job.status.pop(stage.name, None)
        with PeakMemory() as memory:
            stage.run(job)
        job.status.setdefault(stage.name, {}).update(seconds=round(time.perf_counter() - start, 1),
                                                     peak_mb=memory.peak_mb)
        job.fresh = True
        write_json_atomic(job.layout.job, sections)  # stage one may have set an interrupted run aside with it
        job.save_status()
    discard_replaced(aside)
    job.save_status()
    rows = [{"stage": s.name, "seconds": job.status.get(s.name, {}).get("seconds", ""),
             "peak MB": job.status.get(s.name, {}).get("peak_mb", ""),
             "adapted": ", ".join(f"{k} {v['asked']} -> {v['used']}" for k, v in
                                  job.status.get(s.name, {}).get("adapted", {}).items()),
             "note": job.status.get(s.name, {}).get("note", "")} for s in STAGES]
    print(format_table(rows, ["stage", "seconds", "peak MB", "adapted", "note"]), file=sys.stdout)
    return job.status
