"""The groups x variables trade-off: train short runs over a (G, V) grid and tabulate them.

    python scripts/sweep_codebook.py --source synthetic:4:3 --family conv --max_steps 150 \
        --sweep_groups 1 2 4 --sweep_codewords 16 64 320 --output_dir runs/sweep

Every QuantizerConfig field is a flag and applies to every cell; output_dir/G{G}_V{V} holds each run,
output_dir/sweep.md, sweep.json and sweep.png the table and heatmaps. Finished cells are not retrained.
"""

from behavior_tokens.cli import script

if __name__ == "__main__":
    script("sweep-codebook")
