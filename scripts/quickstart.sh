#!/usr/bin/env bash
# The main job end to end on the bundled synthetic data (about 12 minutes on 2 CPU cores):
# quantizer -> token export -> GPT -> generated behavior -> probes -> codebook analysis -> report.
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
python scripts/export_tokens.py --checkpoint "$run" --output_dir "$run/tokens"
"${launch[@]}" scripts/train_lm.py --tokens "$run/tokens" --output_dir "$run/lm" --max_steps 300 --eval_every 150
python scripts/generate_behavior.py --lm "$run/lm" --output_dir "$run/samples" --samples 2 --seconds 10
python scripts/probe.py --quantizer "$run" --lm "$run/lm" --output_dir "$run/probe" --max_train 10000
python scripts/analyze_codebook.py --run "$run" --output_dir "$run/codebook"
python scripts/report.py --run "$run"
