#!/usr/bin/env bash
# The main job end to end: quantizer -> token export with the syllable level -> GPT over syllables ->
# generated behavior -> probes -> vocabulary quality -> token dictionary -> surprisal -> codebook analysis ->
# report (report.md and html/index.html, which opens in a browser).
# Every later stage writes into its sub-folder of the run (core/layout.py: tokens/ lm/ samples/ probe/ ...).
#   bash scripts/quickstart.sh [RUN_DIR [SOURCE [HELD_OUT_VIDEO ...]]]    (defaults: runs/quickstart synthetic)
# The preset (README, "The main job's preset"): conv family with the codebook remedies and relational inputs;
# 25 syllables over z_q and the relational features, lasting >= 400 ms, guided by the training videos' labels
# (each behavior owns some of them; --guide none for unlabelled data); a small GPT with rotary positions,
# stopped early.
set -euo pipefail
run=${1:-runs/quickstart}
source=${2:-synthetic}
held=()
if (($# > 2)); then held=(--test_videos "${@:3}"); fi
# One process: the training scripts make their own accelerate.Accelerator, so they run as plain Python (with every
# CPU thread, as `accelerate launch --num_cpu_threads_per_process` would give them). The launcher adds nothing for one
# process but a traceback and status 1 around a script's one-line error (several processes: README, "Stage one").
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(python -c "import os; print(os.cpu_count() or 1)")}

python scripts/train_quantizer.py --source "$source" "${held[@]}" --output_dir "$run" \
    --family conv --kmeans_init --dead_restart_steps 100 --relational \
    --max_steps 400 --checkpoint_every 100 --eval_every 200
python scripts/export_tokens.py --checkpoint "$run" --scheme syllables \
    --units 25 --smooth_frames 15 --target_median_ms 400 --features z_q+relational --guide labels
python scripts/train_lm.py --tokens "$run/tokens" --positions rotary --n_layer 2 --n_embd 64 --n_head 4 --block_size 128 --block_stride 16 \
    --batch_size 16 --dropout 0.3 --lr 1e-3 --warmup_steps 20 --max_steps 600 --eval_every 10 --patience 8
python scripts/generate_behavior.py --lm "$run/lm" --samples 8 --seconds 60 --eval_samples 512
python scripts/probe.py --quantizer "$run" --lm "$run/lm" --max_train 10000
python scripts/vocabulary_quality.py --tokens "$run/tokens"
python scripts/dictionary.py --tokens "$run/tokens"
python scripts/surprisal.py --lm "$run/lm"
python scripts/analyze_codebook.py --run "$run"
python scripts/report.py --run "$run"
