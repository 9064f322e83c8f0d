#!/usr/bin/env bash
# The main job on the bundled data (or SOURCE), every stage from pose files to the report, from the preset job file
# (behavior_tokens/preset.json): quantizer -> tokens with the syllable level -> GPT over syllables -> generated
# behavior -> probes -> vocabulary quality -> token dictionary -> surprisal -> codebook analysis -> report.md and
# html/index.html. Run again, it continues from the first unfinished stage.
#   bash scripts/quickstart.sh [RUN_DIR [SOURCE [HELD_OUT_VIDEO ...]]]    (defaults: runs/quickstart synthetic)
# (= python scripts/run.py SOURCE RUN_DIR [--test_videos V ...]; behavior-tokens run --help lists the flags)
set -euo pipefail
run=${1:-runs/quickstart}
source=${2:-synthetic}
held=()
if (($# > 2)); then held=(--test_videos "${@:3}"); fi
# every CPU thread, as `accelerate launch --num_cpu_threads_per_process` would give a training script
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(python -c "import os; print(os.cpu_count() or 1)")}
exec python scripts/run.py "$source" "$run" "${held[@]}"
