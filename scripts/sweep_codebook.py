"""The groups x variables trade-off: train short runs over a (G, V) grid and tabulate them.

    python scripts/sweep_codebook.py --source synthetic:4:3 --family conv --max_steps 150 \
        --sweep_groups 1 2 4 --sweep_codewords 16 64 320 --output_dir runs/sweep

Every QuantizerConfig field is a flag and applies to every cell; output_dir/G{G}_V{V} holds each run,
output_dir/sweep.md, sweep.json and sweep.png the table and heatmaps. Finished cells are not retrained.
"""

from transformers import HfArgumentParser

from quantize import QuantizerConfig
from quantize.sweep import SWEEP_KEYS, SweepGrid, sweep
from quantize.train import format_table


def main(argv=None) -> None:
    base, grid = HfArgumentParser((QuantizerConfig, SweepGrid)).parse_args_into_dataclasses(args=argv)
    rows = sweep(base, grid.sweep_groups, grid.sweep_codewords)
    print(format_table(rows, SWEEP_KEYS))


if __name__ == "__main__":
    main()
