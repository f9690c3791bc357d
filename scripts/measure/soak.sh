#!/usr/bin/env bash
# Issue 23: a soak of the daemon. `moed serve` with a cache of 25% of the expert bytes over O_DIRECT, and 4 client
# loops submitting random prompts, a quarter of them killed mid-answer (the server must notice the dead client and
# cancel its request), for MINUTES minutes. Every 30 s it samples the server's resident memory, heap in use (a
# sawtooth: compare the lows, not one sample) and
# status; at the end it prints the errors seen, the requests done, the memory curve and whether the cache ever
# held more than its budget.
#
#   scripts/measure/soak.sh [MINUTES] [MODEL.gguf]     (default: 30 minutes, the repository's tiny model inflated)
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
minutes="${1:-30}"
model="${2:-$(inflated_model)}"
[ -f "$model" ] || { echo "soak: no model file $model" >&2; exit 1; }
run="$WORK/soak"
rm -rf "$run" && mkdir -p "$run/state" "$run/ipc"
# 25% of the expert bytes: the file minus (at most) its non-expert tensors is a slight overestimate; fine for a soak.
cache_mb=$(python3 -c "import os; print(max(4, int(os.path.getsize('$model') / 4 / 2**20)))")

"$MOED" serve -m "$model" --cache-mb "$cache_mb" --backing direct --state-dir "$run/state" --ipc-dir "$run/ipc" \
  --client-timeout-ms 2000 --max-sequences 4 > "$run/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; kill $(jobs -p) 2>/dev/null || true' EXIT
for _ in $(seq 120); do
  "$MOED" status --ipc-dir "$run/ipc" --json > /dev/null 2>&1 && break
  sleep 1
done
jpid=$(pgrep -f -n "moed.jar serve" || echo "$server")

words=(the old king looked at sea and said nothing a little girl who opened door morning village quiet children ship)
client() {
  local i=0 prompt n
  while [ -f "$run/running" ]; do
    i=$((i + 1))
    prompt=""
    for _ in $(seq $((RANDOM % 12 + 2))); do prompt+="${words[RANDOM % ${#words[@]}]} "; done
    n=$((RANDOM % 48 + 8))
    if [ $((RANDOM % 4)) -eq 0 ]; then
      # Killed mid-answer: a client that dies without saying goodbye.
      (timeout -s KILL 1.5 "$MOED" submit --ipc-dir "$run/ipc" -n "$n" "$prompt" > /dev/null 2>&1 || true) 2> /dev/null
      echo killed >> "$run/client-$1.log"
    elif "$MOED" submit --ipc-dir "$run/ipc" -n "$n" "$prompt" > "$run/answer-$1.txt" 2> "$run/err-$1.txt"; then
      echo ok >> "$run/client-$1.log"
    else
      echo "error: $(tail -1 "$run/err-$1.txt")" >> "$run/client-$1.log"
    fi
  done
}
touch "$run/running"
for c in 1 2 3 4; do client "$c" & done

echo "seconds rss_mib heap_used_mib active queued requests_done resident_mib budget_mib" | tee "$run/curve.txt"
end=$(( $(date +%s) + minutes * 60 ))
t0=$(date +%s)
while [ "$(date +%s)" -lt "$end" ]; do
  sleep 30
  rss=$(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$jpid/status" 2>/dev/null || echo "?")
  heap=$(jcmd "$jpid" GC.heap_info 2>/dev/null | python3 -c '
import re, sys
t = sys.stdin.read()
m = re.search(r"used (\d+)K", t)
print(int(m.group(1)) // 1024 if m else "?")' || echo "?")
  "$MOED" status --ipc-dir "$run/ipc" --json 2> /dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
def find(o, *keys):
    for k in keys:
        if isinstance(o, dict):
            for kk, v in o.items():
                if k in kk:
                    return v
    return "?"
c = d.get("cache", d)
print(find(d, "active"), find(d, "queued"), find(d, "done"),
      int(find(c, "resident_bytes", "residentBytes")) // 2**20 if find(c, "resident_bytes", "residentBytes") != "?" else "?",
      int(find(c, "budget_bytes", "budgetBytes")) // 2**20 if find(c, "budget_bytes", "budgetBytes") != "?" else "?")' \
    > "$run/status.now" 2> /dev/null || echo "? ? ? ? ?" > "$run/status.now"
  echo "$(( $(date +%s) - t0 )) $rss $heap $(cat "$run/status.now")" | tee -a "$run/curve.txt"
done
rm -f "$run/running"
wait $(jobs -p | grep -v "^$server$") 2>/dev/null || true

ok=$(cat "$run"/client-*.log 2>/dev/null | grep -c '^ok' || true)
killed=$(cat "$run"/client-*.log 2>/dev/null | grep -c '^killed' || true)
errors=$(cat "$run"/client-*.log 2>/dev/null | grep -c '^error' || true)
echo "soak: $minutes min, $ok answers, $killed clients killed mid-answer, $errors errors"
{ cat "$run"/client-*.log 2>/dev/null | grep '^error' | sort | uniq -c | head -5; } || true
python3 - "$run/curve.txt" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]).read().splitlines()[1:]]
over = [r for r in rows if r[6] != "?" and r[7] != "?" and int(r[6]) > int(r[7])]
rss = [int(r[1]) for r in rows if r[1] != "?"]
heap = [int(r[2]) for r in rows if r[2] != "?"]
if rss:
    print("soak: rss MiB first/last/max %d/%d/%d; heap used MiB first/last/max %s" % (rss[0], rss[-1], max(rss),
          "/".join(str(x) for x in (heap[0], heap[-1], max(heap))) if heap else "?"))
print("soak: samples over the cache budget: %d" % len(over))
PY
kill "$server" 2>/dev/null || true
wait "$server" 2>/dev/null || true
grep -i "exception\|error" "$run/serve.log" | head -5 || true
