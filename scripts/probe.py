"""Probe behavior labels from every representation, on the same held-out frames:

    python scripts/probe.py --quantizer runs/quickstart --lm runs/quickstart/lm --output_dir runs/quickstart/probe

Writes probe.json, probe.md (one row per representation: balanced accuracy, macro and per-class
F1) and confusion.png. See lm/probes.py for the representations and caps.
"""

from behavior_tokens.cli import script

if __name__ == "__main__":
    script("probe")
