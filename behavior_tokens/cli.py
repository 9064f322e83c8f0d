"""The command line: ``behavior-tokens COMMAND [flags]``, and ``scripts/COMMAND.py [flags]`` alike.

Each command parses its config dataclasses (every field a flag; ``--help`` lists them) and calls
the library; an error prints one line ``error: <file or flag>: <what> (<how to fix>)`` and exits
with status 2 (``--debug`` shows the traceback).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from behavior_tokens.core.cli import parse_configs, run_command
from behavior_tokens.core.config import Config, option


@dataclass
class Command:
    help: str
    configs: Callable[[], tuple[type, ...]]  # imported when the command runs, so --help is quick
    run: Callable[..., object]


def _train_quantizer(cfg):
    from behavior_tokens.quantize import train_quantizer
    train_quantizer(cfg)


def _export_tokens(export_cfg, tok_cfg, syl_cfg):
    from behavior_tokens.lm.tokenizer import build_export_tokenizer
    from behavior_tokens.quantize.export import export_tokens
    reports = []

    def tokenizer(folder):
        report = build_export_tokenizer(folder, tok_cfg)[1]
        reports.append(report)
        return report

    dd = export_tokens(export_cfg, finish=tokenizer, syllables=syl_cfg if export_cfg.syllables else None)
    print(dd)
    print(json.dumps({k: v for k, v in reports[0].items() if k != "sha256"}, indent=2))
    if export_cfg.push_to_hub:
        print(f"pushed to https://huggingface.co/datasets/{export_cfg.push_to_hub}")


def _train_lm(cfg):
    from behavior_tokens.lm import train_lm
    train_lm(cfg)


def _generate(cfg):
    from behavior_tokens.lm.generate import generate_behavior
    for rec in generate_behavior(cfg):
        print(f"{rec.video_id}: {rec.n_frames} frames")


def _probe(cfg):
    from behavior_tokens.lm.probes import probe, probe_table
    print(probe_table(probe(cfg)))


def _analyze_codebook(cfg):
    from behavior_tokens.quantize.analysis import analysis_markdown, analyze_codebook
    print(analysis_markdown(analyze_codebook(cfg)))


def _sweep_codebook(base, grid):
    from behavior_tokens.core.tables import format_table
    from behavior_tokens.quantize.sweep import SWEEP_KEYS, sweep
    print(format_table(sweep(base, grid.sweep_groups, grid.sweep_codewords), SWEEP_KEYS))


@dataclass
class ReportConfig(Config):
    run: str = option("runs/quickstart", help="stage-one run folder (later stages in its sub-folders)")
    html: bool = option(True, help="also write run/html/index.html, a page with every figure and movie")


def _report(cfg):
    from behavior_tokens.lm.html_report import build_html
    from behavior_tokens.lm.report import build_report
    print(f"wrote {build_report(cfg.run)}")
    if cfg.html:
        print(f"wrote {build_html(cfg.run)} (open it in a browser)")


def _dictionary(cfg):
    from behavior_tokens.core.tables import format_table
    from behavior_tokens.lm.dictionary import build_dictionary, unit_keys
    rows = build_dictionary(cfg)
    print(format_table(rows, unit_keys(rows)))


def _surprisal(cfg):
    from behavior_tokens.lm.surprisal import surprisal_markdown, surprisal_report
    print(surprisal_markdown(surprisal_report(cfg)))


def _search(cfg):
    from behavior_tokens.core.tables import format_table
    from behavior_tokens.lm.search import RESULT_KEYS, search
    print(format_table(search(cfg), RESULT_KEYS))


def _groups(cfg):
    from behavior_tokens.lm.groups import compare_groups, groups_markdown
    print(groups_markdown(compare_groups(cfg)))


def _one(module: str, name: str):
    def configs():
        import importlib
        return (getattr(importlib.import_module(module), name),)
    return configs


@dataclass
class DescribeConfig(Config):
    source: str = option("synthetic", help="'synthetic[:N[:MINUTES]]', a pose file or folder, a dlc/ + boris/ folder")
    pose_format: str = option("auto", help="format of the pose files ('auto': recognised by their content)")
    fps: float = option(0.0, ge=0, help="frame rate of pose files that do not state it")
    test_videos: list[str] = field(default_factory=list)
    val_fraction: float = option(0.0, ge=0, le=0.9)
    seed: int = option(0, ge=0)


def _describe(cfg):
    from behavior_tokens.data import load_pose_source
    from behavior_tokens.data.describe import describe
    print(describe(load_pose_source(cfg.source, fps=cfg.fps or None, pose_format=cfg.pose_format,
                                    test_videos=cfg.test_videos or None, val_fraction=cfg.val_fraction,
                                    seed=cfg.seed)))


def _quantizer_configs():
    from behavior_tokens.quantize import QuantizerConfig
    return (QuantizerConfig,)


def _export_configs():
    from behavior_tokens.lm.tokenizer import TokenizerConfig
    from behavior_tokens.quantize.export import ExportConfig
    from behavior_tokens.quantize.syllables import SyllableConfig
    return ExportConfig, TokenizerConfig, SyllableConfig


def _quality_configs():
    from behavior_tokens.lm.vocabulary import QualityConfig
    return (QualityConfig,)


def _quality(cfg):
    from behavior_tokens.core.tables import format_table
    from behavior_tokens.core.vocabulary import QUALITY_KEYS
    from behavior_tokens.lm.vocabulary import vocabulary_table
    print(format_table(vocabulary_table(cfg), QUALITY_KEYS))


def _lm_configs():
    from behavior_tokens.lm import LMConfig
    return (LMConfig,)


def _generate_configs():
    from behavior_tokens.lm.generate import GenerateConfig
    return (GenerateConfig,)


def _probe_configs():
    from behavior_tokens.lm.probes import ProbeConfig
    return (ProbeConfig,)


def _analysis_configs():
    from behavior_tokens.quantize.analysis import AnalysisConfig
    return (AnalysisConfig,)


def _sweep_configs():
    from behavior_tokens.quantize import QuantizerConfig
    from behavior_tokens.quantize.sweep import SweepGrid
    return QuantizerConfig, SweepGrid


COMMANDS: dict[str, Command] = {
    "describe-data": Command("what a pose source holds: videos, frames, labels per split",
                             lambda: (DescribeConfig,), _describe),
    "train-quantizer": Command("train stage one (accelerate launch scripts/train_quantizer.py for DDP)",
                               _quantizer_configs, _train_quantizer),
    "export-tokens": Command("per-frame codewords as a Hugging Face dataset, with a tokenizer", _export_configs,
                             _export_tokens),
    "train-lm": Command("train the GPT over behavior tokens", _lm_configs, _train_lm),
    "generate": Command("sample behavior from the GPT and decode it to keypoints", _generate_configs, _generate),
    "probe": Command("probe behavior labels from every representation", _probe_configs, _probe),
    "vocabulary-quality": Command("do the units last, recur and carry behavior? every level of an export",
                                  _quality_configs, _quality),
    "analyze-codebook": Command("codebook usage, similarity, usage over training", _analysis_configs,
                                _analyze_codebook),
    "sweep-codebook": Command("short runs over a (G, V) grid", _sweep_configs, _sweep_codebook),
    "dictionary": Command("what each unit is: counts, enrichment, grid movies, transitions, group usage",
                          _one("behavior_tokens.lm.dictionary", "DictionaryConfig"), _dictionary),
    "surprisal": Command("per-frame surprisal under the GPT, and injected faults it finds",
                         _one("behavior_tokens.lm.surprisal", "SurprisalConfig"), _surprisal),
    "search": Command("bouts matching a unit pattern or like an example bout",
                      _one("behavior_tokens.lm.search", "SearchConfig"), _search),
    "compare-groups": Command("which group's language each video speaks (likelihood ratios)",
                              _one("behavior_tokens.lm.groups", "GroupsConfig"), _groups),
    "report": Command("gather a run into report.md and html/index.html", lambda: (ReportConfig,), _report),
}


def run(name: str, argv: list[str] | None = None) -> int:
    """Run command ``name`` with ``argv`` (default: the process's); returns the exit status."""
    command = COMMANDS[name]
    return run_command(lambda args: command.run(*parse_configs(command.configs(), args)), argv)


def script(name: str) -> None:
    """The body of ``scripts/NAME.py``."""
    sys.exit(run(name))


def main(argv: list[str] | None = None) -> None:
    """``behavior-tokens COMMAND [flags]``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        width = max(map(len, COMMANDS))
        lines = [f"  {name:<{width}}  {c.help}" for name, c in COMMANDS.items()]
        print("usage: behavior-tokens COMMAND [flags]   (COMMAND --help lists its flags)\n\ncommands:\n"
              + "\n".join(lines), file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout)
        if argv and argv[0] not in ("-h", "--help"):
            print(f"error: {argv[0]}: no such command (choose one above)", file=sys.stderr)
            sys.exit(2)
        sys.exit(0)
    sys.exit(run(argv[0], argv[1:]))
