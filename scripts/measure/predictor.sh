#!/usr/bin/env bash
# Issue 6: on-demand loads vs the gate look-ahead predictor, O_DIRECT, LFU, 25% and 50% caches, interleaved
# ROUNDS times (this machine's speed drifts between runs; compare the means).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
M=$(inflated_model)
for round in $(seq 1 "${ROUNDS:-3}"); do
  for pred in none gate; do
    for pct in 25 50; do
      "$MOED" bench -m "$M" -p 16 -n 24 -r 2 -t 2 --backing direct --cache-gb "$(inflated_gib $pct)" --cache-policy lfu --no-stats --predictor $pred --json 2>/dev/null \
        | show "round $round $pct% $pred" decode_tokens_per_s cache.decode_hit_rate cache.decode_stall_ms_per_token cache.decode_mb_read_per_token cache.decode_ms_per_token cache.replay_lru_hit_rate cache.replay_belady_hit_rate
    done
  done
done
