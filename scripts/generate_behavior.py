"""Sample behavior from a trained GPT and decode it to keypoints:

    python scripts/generate_behavior.py --lm runs/quickstart/lm --output_dir runs/quickstart/samples \
        [--prompt_seconds 2] [--seconds 10] [--samples 2] [--temperature 1.0] [--top_k 0]

Each sample is a record folder (data.load_records), an .npz of its codes and tokens, a PNG strip
of frames above an ethogram, and a GIF.
"""

from transformers import HfArgumentParser

from lm.generate import GenerateConfig, generate_behavior


def main(argv=None) -> None:
    (cfg,) = HfArgumentParser(GenerateConfig).parse_args_into_dataclasses(args=argv)
    for rec in generate_behavior(cfg):
        print(f"{rec.video_id}: {rec.n_frames} frames -> {cfg.output_dir}")


if __name__ == "__main__":
    main()
