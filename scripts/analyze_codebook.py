"""Codebook analysis of a trained quantizer: usage of the V^G codewords, codeword similarity, usage over training.

    python scripts/analyze_codebook.py --run runs/quickstart --output_dir runs/quickstart/codebook

Prints the tables and writes analysis.json, analysis.md, usage_histogram.png and usage_over_training.png.
"""

from transformers import HfArgumentParser

from quantize.analysis import AnalysisConfig, analysis_markdown, analyze_codebook


def main(argv=None) -> None:
    (cfg,) = HfArgumentParser(AnalysisConfig).parse_args_into_dataclasses(args=argv)
    print(analysis_markdown(analyze_codebook(cfg)))


if __name__ == "__main__":
    main()
