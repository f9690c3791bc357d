#!/usr/bin/env bash
# Issue 19: moed against the llama.cpp family on the same GGUF file, run one after the other (nothing else should be
# running), with the ratios. moed runs at every vector width the machine has (256 bits, and 512 where the machine has
# AVX-512, each forced with -Dmoed.kernels.bits; by default moed picks one per model), so a kernel that wins on one
# width only shows.
#
#   scripts/measure/vs-reference.sh MODEL.gguf [PATH_TO_LLAMA_BENCH]
#   P=64 N=32 R=3 T=2 (prompt tokens, generated tokens, repetitions, threads) may be set in the environment.
#
# PATH_TO_LLAMA_BENCH is a llama-bench binary built by hand outside this repository (ik_llama.cpp or mainline,
# CPU only); without it only moed's figures are printed.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
model="${1:?usage: vs-reference.sh MODEL.gguf [PATH_TO_LLAMA_BENCH]}"
ref="${2:-}"
P="${P:-64}" N="${N:-32}" R="${R:-3}" T="${T:-2}"
[ -f "$model" ] || { echo "vs-reference: no model file $model" >&2; exit 1; }
[ -z "$ref" ] || [ -x "$ref" ] || { echo "vs-reference: $ref is not an executable llama-bench" >&2; exit 1; }

results="$WORK/vs-reference.jsonl"
: > "$results"
widths=("")
if grep -q avx512f /proc/cpuinfo 2>/dev/null; then
  widths=("-Dmoed.kernels.bits=256" "-Dmoed.kernels.bits=512")
fi
for w in "${widths[@]}"; do
  MOED_JAVA_OPTS="${MOED_JAVA_OPTS:-} $w" "$MOED" bench -m "$model" -p "$P" -n "$N" -r "$R" -t "$T" --json 2>/dev/null \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps({"engine": "moed", "kernels": d["kernels"],
      "pp": d["prefill_tokens_per_s"], "tg": d["decode_tokens_per_s"]}))' >> "$results"
done
if [ -n "$ref" ]; then
  "$ref" -m "$model" -p "$P" -n "$N" -r "$R" -t "$T" -o json 2>/dev/null | python3 -c '
import json, sys
rows = json.load(sys.stdin)
pp = [r["avg_ts"] for r in rows if r.get("n_prompt", 0) > 0 and r.get("n_gen", 0) == 0]
tg = [r["avg_ts"] for r in rows if r.get("n_gen", 0) > 0 and r.get("n_prompt", 0) == 0]
print(json.dumps({"engine": "llama-bench", "kernels": rows[0].get("cpu_info", ""), "pp": pp[0] if pp else None,
                  "tg": tg[0] if tg else None}))' >> "$results"
fi
python3 - "$results" "$model" "$P" "$N" "$T" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
model, p, n, t = sys.argv[2:]
ref = next((r for r in rows if r["engine"] == "llama-bench"), None)
print(f"{model}, {t} threads")
print(f"{'engine':<14}{'kernels':<40}{'pp' + p:>10}{'tg' + n:>10}{'pp ratio':>10}{'tg ratio':>10}")
for r in rows:
    ratio = lambda k: f"{r[k] / ref[k]:.2f}" if ref and ref.get(k) and r.get(k) and r is not ref else ""
    print(f"{r['engine']:<14}{r['kernels'][:38]:<40}{r['pp'] or 0:>10.1f}{r['tg'] or 0:>10.1f}{ratio('pp'):>10}{ratio('tg'):>10}")
EOF
