#!/usr/bin/env bash
# Issue 5: the inflated shared model with O_DIRECT backing at caches of 10/25/50/100% of expert bytes, each policy.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
M=$(inflated_model)
state="$WORK/state"; rm -rf "$state"
# Statistics for the heat policy, gathered on another prompt than the bench's.
"$MOED" run -m "$M" -p "It is a truth universally acknowledged, that a single man in possession of a good fortune" -n 48 --state-dir "$state" >/dev/null 2>&1
for pct in 10 25 50 100; do
  for pol in lru lfu heat; do
    extra="--no-stats"; [ $pol = heat ] && extra="--state-dir $state --warm 0"
    "$MOED" bench -m "$M" -p 16 -n 16 -r 1 -t 2 --cache-gb "$(inflated_gib $pct)" --backing direct --cache-policy $pol $extra --json 2>/dev/null \
      | show "$pct% $pol" decode_tokens_per_s cache.decode_hit_rate cache.decode_stall_ms_per_token cache.decode_mb_read_per_token cache.backing_read_gbps
  done
done
"$MOED" bench -m "$M" -p 16 -n 16 -r 1 -t 2 --no-stats --json 2>/dev/null | show "no cache (in place)" decode_tokens_per_s
