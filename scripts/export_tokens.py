"""Export per-frame codewords of a trained quantizer as a Hugging Face DatasetDict, with a tokenizer.

    python scripts/export_tokens.py --checkpoint runs/quickstart --output_dir runs/quickstart/tokens \
        [--scheme groups|combined|rle|bpe] [--min_count 2] [--stride 1] [--push_to_hub USER/NAME --private]
"""

import json

from transformers import HfArgumentParser

from lm import TokenizerConfig, tokenizer_for_export
from quantize.export import ExportConfig, export_tokens


def main(argv=None) -> None:
    export_cfg, tok_cfg = HfArgumentParser((ExportConfig, TokenizerConfig)).parse_args_into_dataclasses(args=argv)
    push, export_cfg.push_to_hub = export_cfg.push_to_hub, ""  # push after the tokenizer is in the folder
    dd = export_tokens(export_cfg)
    print(dd)
    _, report = tokenizer_for_export(export_cfg.output_dir, tok_cfg)
    print(json.dumps(report, indent=2))
    if push:
        from quantize.export import push_export
        push_export(export_cfg.output_dir, push, private=export_cfg.private)
        print(f"pushed to https://huggingface.co/datasets/{push}")


if __name__ == "__main__":
    main()
