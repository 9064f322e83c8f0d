"""Export per-frame codewords of a trained quantizer as a Hugging Face DatasetDict, with a tokenizer.

    python scripts/export_tokens.py --checkpoint runs/quickstart --output_dir runs/quickstart/tokens \
        [--scheme groups|combined|rle|bpe] [--min_count 2] [--stride 1] [--push_to_hub USER/NAME --private]
"""

from behavior_tokens.cli import script

if __name__ == "__main__":
    script("export-tokens")
