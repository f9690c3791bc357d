#!/usr/bin/env bash
# Starts 'moed serve' on the tiny model N times (default 20), submits one prompt, stops it with SIGTERM and checks
# that its JFR recording is complete (JFR's own 'jfr summary' reads it and it holds the request). Prints how many
# of N recordings survived. Usage: scripts/measure/serve-stop-loop.sh [N]
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$repo/scripts/jdk.sh"
moed_find_jdk || exit 1 # for JFR's own 'jfr' tool
n="${1:-20}"
run="$WORK/serve-stop"
ok=0
for i in $(seq 1 "$n"); do
  rm -rf "$run"; mkdir -p "$run"
  "$MOED" serve -m "$TINY" --state-dir "$run/state" --ipc-dir "$run/ipc" --cache-mb 4 -t 1 2>"$run/serve.log" &
  pid=$!
  for _ in $(seq 1 600); do [ -e "$run/ipc/requests.ring" ] && break; sleep 0.1; done
  "$MOED" submit --ipc-dir "$run/ipc" -n 8 "The old king looked at the sea and said" >/dev/null 2>&1 || true
  kill -TERM "$pid"
  wait "$pid" || true
  if [ -s "$run/state/serve.jfr" ] && "$JAVA_HOME/bin/jfr" summary "$run/state/serve.jfr" 2>/dev/null | grep -q 'moed.Request'; then
    ok=$((ok + 1))
  else
    echo "round $i: recording lost; log:" >&2; tail -5 "$run/serve.log" >&2
  fi
done
echo "serve-stop-loop: $ok of $n recordings survived SIGTERM"
