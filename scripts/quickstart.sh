#!/usr/bin/env bash
# The main job end to end (about 12 minutes on 2 CPU cores on the bundled synthetic data):
# quantizer -> token export -> GPT -> generated behavior -> probes -> codebook analysis -> report.
# Every later stage writes into its sub-folder of the run (core/layout.py: tokens/ lm/ samples/ probe/ codebook/).
#   bash scripts/quickstart.sh [RUN_DIR [SOURCE [HELD_OUT_VIDEO ...]]]    (defaults: runs/quickstart synthetic)
set -euo pipefail
run=${1:-runs/quickstart}
source=${2:-synthetic}
held=()
if (($# > 2)); then held=(--test_videos "${@:3}"); fi
threads=$(python -c "import os; print(os.cpu_count() or 1)")
# accelerate launch gives a CPU process one thread unless told otherwise
launch=(accelerate launch --num_processes 1 --num_cpu_threads_per_process "$threads")

"${launch[@]}" scripts/train_quantizer.py --source "$source" "${held[@]}" \
    --output_dir "$run" --family conv --kmeans_init --dead_restart_steps 100 --max_steps 400 \
    --checkpoint_every 100 --eval_every 200
python scripts/export_tokens.py --checkpoint "$run"
"${launch[@]}" scripts/train_lm.py --tokens "$run/tokens" --max_steps 300 --eval_every 150
python scripts/generate_behavior.py --lm "$run/lm" --samples 2 --seconds 10
python scripts/probe.py --quantizer "$run" --lm "$run/lm" --max_train 10000
python scripts/analyze_codebook.py --run "$run"
python scripts/report.py --run "$run"
