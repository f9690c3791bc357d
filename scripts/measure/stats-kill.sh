#!/usr/bin/env bash
# Kills a process with -9 while it records expert statistics (48 layers x 128 experts, top-8) and flushes them to
# the Chronicle Map every 500 ms (the daemon flushes every 5 s), KILLS times (default 20) at a random moment 3-6 s
# after it is ready (a warmed-up JIT, as in a daemon: a cold JVM's first flushes take a second each), reopening the
# map after each kill: does it always reopen, and how much was lost? Goal: always reopens, at most one flush
# interval lost (a kill during a flush also loses what that flush had not yet written).
# Prints one line per kill and a summary. The probe is moed.cache.StatisticsKillProbe (expert-cache's tests).
#   scripts/measure/stats-kill.sh [KILLS]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
. "$here/scripts/jdk.sh"
moed_find_jdk || exit 1
moed_find_maven || exit 1
kills="${1:-20}"
cd "$here"
# The probe and the current cache classes, ahead of the CLI jar for the libraries (Chronicle Map and its kin).
[ -f tools/target/moed.jar ] || "$MVN" -q -B -DskipTests -pl tools -am package >&2
"$MVN" -q -B -pl expert-cache -am test-compile >&2
cp="expert-cache/target/test-classes:expert-cache/target/classes:kernels/target/classes:jfr-events/target/classes:tools/target/moed.jar"
# exec: so that $! is the JVM itself and kill -9 hits it, not a subshell around it.
probe() { exec "$JAVA_HOME/bin/java" "${MOED_JVM_FLAGS[@]}" -Xmx1g -cp "$cp" moed.cache.StatisticsKillProbe "$@"; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
state="$work/state"   # one map for all the kills: each run recovers what the previous kill left
results="$work/results"
: > "$results"
for i in $(seq 1 "$kills"); do
  log="$work/record.log"
  probe record "$state" "$work/progress" > "$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do grep -q READY "$log" && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  grep -q READY "$log" || { echo "recorder $i did not start:"; cat "$log"; exit 1; }
  sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.3f", 3 + r / 32768 * 3 }')"
  kill -9 "$pid"
  wait "$pid" 2>/dev/null || true
  line="$(probe check "$state" "$work/progress")" || true
  echo "kill $i: $line"
  echo "$line" >> "$results"
done
awk '
  { for (f = 1; f <= NF; f++) { split($f, kv, "="); v[kv[1]] = kv[2] }
    n++; if (v["reopened"] == "yes") ok++; if (v["mid_flush"] == "yes") mid++; if (v["sane"] == "yes") sane++
    if (v["lost_intervals"] + 0 > worst) worst = v["lost_intervals"] + 0
    if (v["lost"] + 0 > maxlost) maxlost = v["lost"] + 0
    if (v["open_ms"] + 0 > maxopen) maxopen = v["open_ms"] + 0
    if (v["lost_intervals"] + 0 > 1) over++ }
  END { printf "kills=%d reopened=%d killed_mid_flush=%d consistent=%d max_lost=%d max_lost_intervals=%.2f over_one_interval=%d max_open_ms=%d\n",
               n, ok, mid, sane, maxlost, worst, over, maxopen }' "$results"
