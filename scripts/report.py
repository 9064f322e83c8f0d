"""Gather a run's metrics, GPT evaluation, probes, codebook analysis and samples into run/report.md:

    python scripts/report.py --run runs/quickstart
"""

import argparse

from lm.report import build_report


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--run", default="runs/quickstart", help="stage-one run folder (later stages in its sub-folders)")
    print(f"wrote {build_report(ap.parse_args(argv).run)}")


if __name__ == "__main__":
    main()
