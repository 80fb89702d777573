#!/usr/bin/env bash
# Quality of int8 quantization of a trained model: post-training quantization (PTQ) against a
# short quantization-aware training (QAT), both compared with the fp32 model on the validation
# split (loss, KL(fp32 ‖ int8), top-1 agreement), plus the control QAT needs: the same fine-tune
# in fp32, against which the QAT model's int8 error is measured. Results go to
# docs/quantization.md by hand.
#   scripts/quant_quality.sh MODEL.safetensors PRESET DATA_DIR OUT_DIR [QAT_STEPS] [EVAL_BATCHES]
# e.g. scripts/quant_quality.sh /work/models/small-sotu/model.safetensors small runs/demo/sotu-tokens /tmp/qq 30 16
set -euo pipefail
MODEL=$1 PRESET=$2 DATA=$3 OUT=$4 STEPS=${5:-30} EVAL_BATCHES=${6:-16}
COOK=${COOK:-build/cook}
SEQ=128 BATCH=8
mkdir -p "$OUT"
# compare MODEL [REFERENCE]: loss, KL and top-1 of MODEL against REFERENCE (default: the fp32 model).
compare() {
  $COOK compare --load "$1" --reference "${2:-$MODEL}" --data "$DATA" --seq-len $SEQ --batch-size $BATCH \
    --max-batches "$EVAL_BATCHES" --json | tee -a "$OUT/results.jsonl"
}
: > "$OUT/results.jsonl"
# PTQ: the fp32 weights quantized as they are (activations are quantized per token at run time,
# so there is nothing to calibrate).
$COOK export --load "$MODEL" --model "$PRESET" --int8 --out "$OUT/ptq-int8.safetensors"
compare "$OUT/ptq-int8.safetensors"
# QAT: a short fine-tune through the fake-quantized model, then the same export.
$COOK train --model "$PRESET-int8" --load "$MODEL" --data "$DATA" --steps "$STEPS" --batch-size $BATCH \
  --seq-len $SEQ --start-lr 5e-5 --schedule constant --warmup 0 --save-dir "$OUT/qat" --save-interval "$STEPS" \
  --eval-batches "$EVAL_BATCHES" --log-interval 5 --no-progress
CKPT=$(ls -d "$OUT"/qat/checkpoints/step-* | tail -1)/model.safetensors
$COOK export --load "$CKPT" --model "$PRESET" --int8 --out "$OUT/qat-int8.safetensors"
compare "$OUT/qat-int8.safetensors"
# The fair control for QAT: the same fine-tune (steps, batches, learning rate) in fp32, so that
# what the training itself changed is not counted as quantization error.
$COOK train --model "$PRESET" --load "$MODEL" --data "$DATA" --steps "$STEPS" --batch-size $BATCH \
  --seq-len $SEQ --start-lr 5e-5 --schedule constant --warmup 0 --save-dir "$OUT/fp32-ft" --save-interval "$STEPS" \
  --eval-batches "$EVAL_BATCHES" --log-interval 5 --no-progress
FT=$(ls -d "$OUT"/fp32-ft/checkpoints/step-* | tail -1)/model.safetensors
compare "$FT"
compare "$OUT/qat-int8.safetensors" "$FT"
$COOK export --load "$FT" --model "$PRESET" --int8 --out "$OUT/ft-ptq-int8.safetensors"
compare "$OUT/ft-ptq-int8.safetensors" "$FT"
