#!/usr/bin/env bash
# Issue 8: continuous batching, aggregate tokens/s and expert bytes per token for 1..8 sequences.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$MOED" bench batch -m "$TINY" -n 32 2>/dev/null
"$MOED" bench batch -m "$(inflated_model)" -n 16 --sequences 1,4,8 --cache-gb "$(inflated_gib 50)" --backing direct --cache-policy lfu --no-stats 2>/dev/null
