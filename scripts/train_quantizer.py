"""Train stage one: ``accelerate launch scripts/train_quantizer.py --source synthetic ...``.

Every field of quantize.QuantizerConfig is a flag (``--help`` lists them); the run folder gets
config.json, pipeline.json, metrics.jsonl, checkpoints/step_N and model/ (safetensors).
"""

from transformers import HfArgumentParser

from quantize import QuantizerConfig, train_quantizer


def main(argv=None) -> None:
    (cfg,) = HfArgumentParser(QuantizerConfig).parse_args_into_dataclasses(args=argv)
    train_quantizer(cfg)


if __name__ == "__main__":
    main()
