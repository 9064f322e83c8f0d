"""The command line: ``behavior-tokens COMMAND [flags]``, and ``scripts/COMMAND.py [flags]`` alike.

Each command parses its config dataclasses (every field a flag; ``--help`` lists them) and calls
the library; an error prints one line ``error: <file or flag>: <what> (<how to fix>)`` and exits
with status 2 (``--debug`` shows the traceback). Configs and library code are imported only when a
command runs, so ``--help`` is quick.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass

from behavior_tokens.core.cli import parse_configs, run_command


def _load(spec: str):
    """``"module:name"`` (module under behavior_tokens) -> the object."""
    module, name = spec.split(":")
    return getattr(importlib.import_module(f"behavior_tokens.{module}"), name)


@dataclass
class Command:
    help: str
    configs: tuple[str, ...]  # "module:ConfigClass" of each config the command parses
    run: Callable[..., object]
    positional: tuple[str, ...] = ()  # flags that may be given by position, first (``run SOURCE RUN_DIR``)

    def flags(self, argv: list[str]) -> list[str]:
        """``argv`` with its leading positional arguments given as the flags they stand for."""
        out, rest = [], list(argv)
        for name in self.positional:
            if not rest or rest[0].startswith("-"):
                break
            out += [f"--{name}", rest.pop(0)]
        return out + rest


def _train_quantizer(cfg):
    _load("quantize:train_quantizer")(cfg)


def _export_tokens(export_cfg, tok_cfg, syl_cfg):
    dd, report = _load("lm.tokenizer:export_with_tokenizer")(export_cfg, tok_cfg,
                                                            syl_cfg if export_cfg.syllables else None)
    if dd is None:  # a process other than accelerate's main one: the main one writes and reports
        return
    print(dd)
    print(json.dumps({k: v for k, v in report.items() if k != "sha256"}, indent=2))
    if export_cfg.push_to_hub:
        print(f"pushed to https://huggingface.co/datasets/{export_cfg.push_to_hub}")


def _train_lm(cfg):
    _load("lm:train_lm")(cfg)


def _generate(cfg):
    for rec in _load("generation:generate_behavior")(cfg):
        print(f"{rec.video_id}: {rec.n_frames} frames")


def _table(run: str, keys: str):
    """A command that prints its result rows as a table with the columns ``keys`` (a name, or a function of the rows)."""
    def command(cfg):
        from behavior_tokens.core.tables import format_table
        rows = _load(run)(cfg)
        columns = _load(keys)
        print(format_table(rows, columns(rows) if callable(columns) else columns))
    return command


def _markdown(run: str, markdown: str):
    """A command that prints its result as the Markdown ``markdown`` makes of it."""
    def command(cfg):
        print(_load(markdown)(_load(run)(cfg)))
    return command


def _sweep_codebook(base, grid):
    from behavior_tokens.core.tables import format_table
    from behavior_tokens.quantize.sweep import SWEEP_KEYS, sweep
    print(format_table(sweep(base, grid.sweep_groups, grid.sweep_codewords), SWEEP_KEYS))


def _report(cfg):
    print(f"wrote {_load('explorer.report:build_report')(cfg.run)}")
    if cfg.html:
        print(f"wrote {_load('explorer.html_report:build_html')(cfg.run)} (open it in a browser)")


def _run_job(cfg):
    _load("job:run_job")(cfg)


def _describe(cfg):
    print(_load("data.describe:describe_source")(cfg))


COMMANDS: dict[str, Command] = {
    "run": Command("the main job, from pose files to the report (run SOURCE RUN_DIR; run again to continue)",
                   ("job:RunJobConfig",), _run_job, positional=("source", "run_dir")),
    "describe-data": Command("what a pose source holds: videos, frames, labels per split",
                             ("data.describe:DescribeConfig",), _describe),
    "train-quantizer": Command("train stage one (accelerate launch scripts/train_quantizer.py for DDP)",
                               ("quantize:QuantizerConfig",), _train_quantizer),
    "export-tokens": Command("per-frame codewords as a Hugging Face dataset, with a tokenizer",
                             ("quantize.export:ExportConfig", "lm.tokenizer:TokenizerConfig",
                              "quantize.syllables:SyllableConfig"), _export_tokens),
    "train-lm": Command("train the GPT over behavior tokens", ("lm:LMConfig",), _train_lm),
    "generate": Command("sample behavior from the GPT and decode it to keypoints", ("generation:GenerateConfig",),
                        _generate),
    "probe": Command("probe behavior labels from every representation", ("explorer.probes:ProbeConfig",),
                     _markdown("explorer.probes:probe", "explorer.probes:probe_table")),
    "vocabulary-quality": Command("do the units last, recur and carry behavior? every level of an export",
                                  ("explorer.vocabulary:QualityConfig",),
                                  _table("explorer.vocabulary:vocabulary_table", "core.vocabulary:QUALITY_KEYS")),
    "analyze-codebook": Command("codebook usage, similarity, usage over training", ("quantize.analysis:AnalysisConfig",),
                                _markdown("quantize.analysis:analyze_codebook", "quantize.analysis:analysis_markdown")),
    "sweep-codebook": Command("short runs over a (G, V) grid", ("quantize:QuantizerConfig", "quantize.sweep:SweepGrid"),
                              _sweep_codebook),
    "dictionary": Command("what each unit is: counts, enrichment, grid movies, transitions, group usage",
                          ("explorer.dictionary:DictionaryConfig",),
                          _table("explorer.dictionary:build_dictionary", "explorer.dictionary:unit_keys")),
    "surprisal": Command("per-frame surprisal under the GPT, and injected faults it finds",
                         ("explorer.surprisal:SurprisalConfig",),
                         _markdown("explorer.surprisal:surprisal_report", "explorer.surprisal:surprisal_markdown")),
    "search": Command("bouts matching a unit pattern or like an example bout", ("explorer.search:SearchConfig",),
                      _table("explorer.search:search", "explorer.search:RESULT_KEYS")),
    "compare-groups": Command("which group's language each video speaks (likelihood ratios)",
                              ("explorer.groups:GroupsConfig",),
                              _markdown("explorer.groups:compare_groups", "explorer.groups:groups_markdown")),
    "report": Command("gather a run into report.md and html/index.html", ("explorer.report:ReportConfig",), _report),
}


def run(name: str, argv: list[str] | None = None) -> int:
    """Run command ``name`` with ``argv`` (default: the process's); returns the exit status."""
    command = COMMANDS[name]
    return run_command(lambda args: command.run(*parse_configs([_load(c) for c in command.configs],
                                                               command.flags(args))), argv)


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
