"""Codebook analysis of a trained quantizer: usage of the V^G codewords, codeword similarity, usage over training.

    python scripts/analyze_codebook.py --run runs/quickstart --output_dir runs/quickstart/codebook

Prints the tables and writes analysis.json, analysis.md, usage_histogram.png and usage_over_training.png.
"""

from behavior_tokens.cli import script

if __name__ == "__main__":
    script("analyze-codebook")
