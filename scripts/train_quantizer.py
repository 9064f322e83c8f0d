"""Train stage one: ``accelerate launch scripts/train_quantizer.py --source synthetic ...``.

Every field of quantize.QuantizerConfig is a flag (``--help`` lists them); the run folder gets
config.json, pipeline.json, metrics.jsonl, checkpoints/step_N and model/ (safetensors).
"""

from behavior_tokens.cli import script

if __name__ == "__main__":
    script("train-quantizer")
