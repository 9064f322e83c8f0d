"""Train stage two: ``accelerate launch scripts/train_lm.py --tokens runs/quickstart/tokens --output_dir runs/quickstart/lm``.

Every field of lm.LMConfig is a flag (``--help`` lists them). The run folder gets config.json,
metrics.jsonl, eval.json (held-out perplexity and bits beside n-gram baselines), checkpoints/step_N
and model/ (``AutoModelForCausalLM`` / ``AutoTokenizer.from_pretrained`` load it).
"""

from transformers import HfArgumentParser

from lm import LMConfig, train_lm


def main(argv=None) -> None:
    (cfg,) = HfArgumentParser(LMConfig).parse_args_into_dataclasses(args=argv)
    train_lm(cfg)


if __name__ == "__main__":
    main()
