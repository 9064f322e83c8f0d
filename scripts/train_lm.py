"""Train stage two: ``accelerate launch scripts/train_lm.py --tokens runs/quickstart/tokens --output_dir runs/quickstart/lm``.

Every field of lm.LMConfig is a flag (``--help`` lists them). The run folder gets config.json,
metrics.jsonl, eval.json (held-out perplexity and bits beside n-gram baselines), checkpoints/step_N
and model/ (``AutoModelForCausalLM`` / ``AutoTokenizer.from_pretrained`` load it).
"""

from behavior_tokens.cli import script

if __name__ == "__main__":
    script("train-lm")
