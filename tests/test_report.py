"""The run's report: every stage's section from what the run folder holds, and the command for what it lacks."""

import pytest

from behavior_tokens.explorer.report import build_report

SECTIONS = ("## Stage one", "## Token export", "## Vocabulary quality", "## GPT", "## Probes", "## Codebook",
            "## Generated behavior")


def test_a_stage_not_run_is_named_with_its_command(checkpointed_run):
    report = build_report(checkpointed_run).read_text()
    for section in SECTIONS:
        assert section in report
    assert "trigram" in report  # the GPT against its n-gram baselines
    assert "not found; run:_ `python scripts/generate_behavior.py" in report  # no samples yet: says how
    assert "not found; run:_ `python scripts/probe.py" in report


def test_the_main_jobs_stages_are_reported(generated_run):
    report = build_report(generated_run).read_text()
    for section in SECTIONS:
        assert section in report
    assert "tree codewords" in report and "lookup syllables" in report and "tokens: syllables" in report
    assert "real vs generated 1 s windows, AUC" in report
    assert "held-out vs training 1 s windows, AUC (real against real)" in report


def test_report_refuses_a_non_run(tmp_path):
    with pytest.raises(ValueError, match="no config.json"):
        build_report(tmp_path)
