"""Probe behavior labels from every representation, on the same held-out frames:

    python scripts/probe.py --quantizer runs/quickstart --lm runs/quickstart/lm --output_dir runs/quickstart/probe

Writes probe.json, probe.md (one row per representation: balanced accuracy, macro and per-class
F1) and confusion.png. See lm/probes.py for the representations and caps.
"""

from transformers import HfArgumentParser

from lm.probes import ProbeConfig, probe, probe_table


def main(argv=None) -> None:
    (cfg,) = HfArgumentParser(ProbeConfig).parse_args_into_dataclasses(args=argv)
    print(probe_table(probe(cfg)))


if __name__ == "__main__":
    main()
