"""Gather a run's metrics, GPT evaluation, probes, codebook analysis and samples into run/report.md:

    python scripts/report.py --run runs/quickstart
"""

from behavior_tokens.cli import script

if __name__ == "__main__":
    script("report")
