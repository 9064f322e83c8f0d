"""Sample behavior from a trained GPT and decode it to keypoints:

    python scripts/generate_behavior.py --lm runs/quickstart/lm --output_dir runs/quickstart/samples \
        [--prompt_seconds 2] [--seconds 10] [--samples 2] [--temperature 1.0] [--top_k 0]

Each sample is a record folder (data.load_records), an .npz of its codes and tokens, a PNG strip
of frames above an ethogram, and a GIF.
"""

from behavior_tokens.cli import script

if __name__ == "__main__":
    script("generate")
