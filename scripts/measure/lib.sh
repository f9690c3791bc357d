# Shared by the measurement scripts (sourced, not run). They print the figures quoted in closing notes and docs.
#   MOED    the CLI to run (default: the repository's ./moed; point it at a copied jar's wrapper so a rebuild
#           cannot disturb a long measurement)
#   SHARED  the shared material (default: ../shared beside the repository)
#   WORK    where generated models, recordings and logits go (default: target/measure)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MOED="${MOED:-$repo/moed}"
SHARED="${SHARED:-$repo/../shared}"
WORK="${WORK:-$repo/target/measure}"
TINY="$repo/models/moed-tinymoe-16x4-q8_0.gguf"
mkdir -p "$WORK"

# The shared model inflated to 12.75 MiB experts (1.6 GiB; same routing and outputs), made once.
inflated_model() {
  local m="$WORK/tiny-x128.gguf"
  [ -f "$m" ] || "$MOED" model inflate "$TINY" "$m" --expert-ff 16384 >&2
  echo "$m"
}

# GiB holding pct% of the inflated model's 128 experts of 12.75 MiB.
inflated_gib() {
  python3 -c "print(round(128 * 12.75 * $1 / 100 / 1024 + 0.001, 4))"
}

# Reads a JSON report on stdin and prints LABEL then each named field (a.b for nested), e.g.
#   moed bench --json ... | show "25% lfu" decode_tokens_per_s cache.decode_hit_rate
show() {
  python3 -c '
import json, sys
d = json.load(sys.stdin)
out = [sys.argv[1]]
for f in sys.argv[2:]:
    v = d
    for k in f.split("."):
        v = v.get(k) if isinstance(v, dict) else None
    out.append("%s=%s" % (f.split(".")[-1], ("%.4g" % v) if isinstance(v, float) else v))
print(" | ".join(out))' "$@"
}
