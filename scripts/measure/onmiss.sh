#!/usr/bin/env bash
# Issue 5: --on-miss wait vs direct (compute the missed expert from the mapping while it loads), page cache warm.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
M=$(inflated_model)
cat "$M" > /dev/null
for pct in 10 25 50; do
  for miss in wait direct; do
    "$MOED" bench -m "$M" -p 16 -n 16 -r 2 -t 2 --cache-gb "$(inflated_gib $pct)" --backing mmap --cache-policy lfu --on-miss $miss --no-stats --json 2>/dev/null \
      | show "$pct% on-miss $miss" decode_tokens_per_s cache.decode_hit_rate cache.decode_stall_ms_per_token cache.decode_ms_per_token
  done
done
