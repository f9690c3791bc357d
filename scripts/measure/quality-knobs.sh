#!/usr/bin/env bash
# Issue 9 (docs/QUALITY-KNOBS.md): perplexity agreement with llama.cpp, -ser over a grid, cache-aware routing at a
# 25% cache (PPL ratio and KL against the full model's saved log-probabilities), and decode speed where expert
# bytes dominate (the inflated model).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
T="$SHARED/corpus/test.txt"
[ -f "$T" ] || { echo "needs $T (the shared corpus)" >&2; exit 1; }
ppl() { "$MOED" perplexity -m "$TINY" -f "$T" -c 256 --json "$@" 2>/dev/null; }
PPLF="ppl ppl_ratio kl_mean kl_p99 top1_agreement"
ppl | show "full test split, -c 256" ppl ppl_error chunks tokens_per_s
ppl --chunks 60 --save-logits "$WORK/base60.logits" | show "base, 60 chunks" ppl
for s in 3,0.5 2,0.5 2,0.2 2,0.1 2,1 1,0.5 1,0.2 1,1; do
  ppl --chunks 60 --kl-base "$WORK/base60.logits" -ser $s | show "-ser $s" $PPLF
done
# Cache-aware routing meets the cache as decode does: one token per step (-b 1).
C="--cache-mb 3.2 --cache-policy lfu"
ppl --chunks 30 -b 1 --save-logits "$WORK/base30.logits" | show "base, 30 chunks, -b 1" ppl
for m in 0.02 0.05 0.1 0.2; do
  ppl --chunks 30 -b 1 --kl-base "$WORK/base30.logits" $C --cache-aware-routing $m | show "CAR $m" $PPLF
  "$MOED" bench -m "$TINY" -p 16 -n 64 -r 3 -t 2 --no-stats $C --cache-aware-routing $m --json 2>/dev/null | show "CAR $m decode" cache.decode_hit_rate
done
"$MOED" bench -m "$TINY" -p 16 -n 64 -r 3 -t 2 --no-stats $C --json 2>/dev/null | show "no CAR decode" cache.decode_hit_rate
M=$(inflated_model)
cat "$M" > /dev/null
for s in none 3,0.5 2,0.2 2,1 1,0.2 1,1; do
  f=""; [ $s != none ] && f="-ser $s"
  "$MOED" bench -m "$M" -p 16 -n 32 -r 3 -t 2 --no-stats $f --json 2>/dev/null | show "inflated, -ser $s" decode_tokens_per_s prefill_tokens_per_s
done
for m in 0 0.02 0.05 0.1; do
  f=""; [ $m != 0 ] && f="--cache-aware-routing $m"
  "$MOED" bench -m "$M" -p 16 -n 24 -r 1 -t 2 --cache-gb "$(inflated_gib 25)" --backing direct --cache-policy lfu --no-stats $f --json 2>/dev/null \
    | show "inflated 25% O_DIRECT, CAR $m" decode_tokens_per_s cache.decode_hit_rate cache.decode_stall_ms_per_token cache.decode_mb_read_per_token
done
