#!/usr/bin/env bash
# Issue 20: a repeatable run of a MoE model file larger than the memory the run may use. Each engine runs alone in
# a memory cgroup of LIMIT_GB GiB (page cache included: what an engine maps or reads through the page cache counts),
# after the file's pages were dropped from the page cache, so every run starts cold and none can use more memory
# than the limit. moed keeps CACHE_GB GiB of experts in off-heap slots and reads the rest with O_DIRECT, once per
# predictor:policy pair in CONFIGS; llama-bench (when given) maps the file, as llama.cpp users run it. Prints a
# table, the peak memory of each run against the limit, and the overlap bound of the on-demand run: the decode rate
# if every expert read were hidden behind compute (1000 / max(ms reading a token's experts, ms computing a token)).
#
#   scripts/measure/beyond-ram.sh [MODEL.gguf] [PATH_TO_LLAMA_BENCH]
#
# MODEL.gguf defaults to $WORK/q3-beyond-ram.gguf, made when missing (about 10 GiB: a Qwen3-MoE-shaped file, 16
# layers of 128 experts, Q8_0). PATH_TO_LLAMA_BENCH is a llama-bench built by hand outside this repository.
#   LIMIT_GB=5        the cgroup's memory limit in GiB (page cache included; no swap)
#   CACHE_GB=3        moed's --cache-gb
#   P=16 N=16 T=2 R=1 prompt tokens, generated tokens, threads, repetitions
#   CONFIGS="none:lfu gate:lfu"   moed's --predictor:--cache-policy pairs, one run each; the first with predictor
#                     none gives the overlap bound
#   EXTRA             more moed bench flags, e.g. EXTRA="--io-threads 4"
#   STATS_DIR         moed's --state-dir: use (and add to) the persisted statistics there, for the heat policy and the
#                     warm start (default: --no-stats)
# Needs root (or a writable cgroup filesystem, v1 or v2). Point MOED at a copied jar's wrapper: the repository's
# ./moed may rebuild, and would do it inside the cgroup. Raw results (one JSON line a run, with the engine's own
# report under "report") go to $WORK/beyond-ram.jsonl, the engines' stderr to $WORK/beyond-ram-*.log.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
model="${1:-$WORK/q3-beyond-ram.gguf}"
ref="${2:-}"
LIMIT_GB="${LIMIT_GB:-5}" CACHE_GB="${CACHE_GB:-3}"
P="${P:-16}" N="${N:-16}" T="${T:-2}" R="${R:-1}"
CONFIGS="${CONFIGS:-none:lfu gate:lfu}"
read -r -a extra <<< "${EXTRA:-}"
read -r -a configs <<< "$CONFIGS"
# Persisted statistics (the heat policy's prior, the warm start) only when STATS_DIR names where they live: a
# measurement should not depend on what earlier runs left in ~/.moed.
if [ -n "${STATS_DIR:-}" ]; then stats=(--state-dir "$STATS_DIR"); else stats=(--no-stats); fi
die() { echo "beyond-ram: $*" >&2; exit 1; }
[ -z "$ref" ] || [ -x "$ref" ] || die "$ref is not an executable llama-bench"
[ "${#configs[@]}" -gt 0 ] || die "CONFIGS is empty"
for c in "${configs[@]}"; do
  [[ "$c" == ?*:?* ]] || die "CONFIGS entry '$c' is not predictor:policy (e.g. none:lfu)"
done
limit_bytes=$(python3 -c "import sys; b = int(float(sys.argv[1]) * 2**30); assert b > 0; print(b)" "$LIMIT_GB" 2>/dev/null) \
  || die "LIMIT_GB=$LIMIT_GB is not a positive number of GiB"

# --- memory cgroups: v1 (/sys/fs/cgroup/memory) or v2 (/sys/fs/cgroup with the memory controller) ----------------
if [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
  cg_version=1 cg_parent=/sys/fs/cgroup/memory
  # Below this shell's own memory cgroup, so the runs stay inside whatever already bounds the session.
  own="$(sed -n 's/^[0-9]*:\([^:]*,\)\{0,1\}memory\(,[^:]*\)\{0,1\}:\(.*\)$/\3/p' /proc/self/cgroup | head -n 1)"
  if [ -n "$own" ] && [ -w "$cg_parent$own" ]; then cg_parent="$cg_parent${own%/}"; fi
elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  cg_version=2 cg_parent=/sys/fs/cgroup
  grep -qw memory "$cg_parent/cgroup.controllers" \
    || die "cgroup v2 without the memory controller ($cg_parent/cgroup.controllers: $(cat "$cg_parent/cgroup.controllers"))"
else
  die "no memory cgroup: neither /sys/fs/cgroup/memory (v1) nor /sys/fs/cgroup/cgroup.controllers (v2) exists"
fi
cg_made=()
cg_remove() {
  local cg="$1" pid
  [ -d "$cg" ] || return 0
  # Only what this script started lives here; stop any left by an interrupted run, by id.
  while read -r pid; do kill "$pid" 2>/dev/null || true; done < "$cg/cgroup.procs" 2>/dev/null || true
  for _ in $(seq 50); do
    rmdir "$cg" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "beyond-ram: could not remove the cgroup $cg (remove it with: rmdir $cg)" >&2
}
cleanup() {
  local cg
  for cg in "${cg_made[@]}"; do cg_remove "$cg"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# Makes a cgroup limited to limit_bytes; sets cg to its directory (not run in $(...): cg_made must see it).
cg_new() {
  cg="$cg_parent/moed-beyond-ram-$$-$1"
  if [ "$cg_version" = 2 ] && ! grep -qw memory "$cg_parent/cgroup.subtree_control"; then
    echo +memory 2>/dev/null > "$cg_parent/cgroup.subtree_control" \
      || die "cannot enable the memory controller in $cg_parent/cgroup.subtree_control (run as root; in a container, the cgroup filesystem must be writable and this shell outside its root cgroup)"
  fi
  local err
  err=$(mkdir "$cg" 2>&1) \
    || die "cannot create the cgroup $cg (${err##*: }): run as root, with a writable cgroup filesystem"
  cg_made+=("$cg")
  if [ "$cg_version" = 1 ]; then
    echo "$limit_bytes" 2>/dev/null > "$cg/memory.limit_in_bytes" || die "cannot write $cg/memory.limit_in_bytes"
    # memsw (memory + swap) may only be set after memory.limit_in_bytes, and not below it: equal means no swap.
    if [ -f "$cg/memory.memsw.limit_in_bytes" ]; then
      echo "$limit_bytes" 2>/dev/null > "$cg/memory.memsw.limit_in_bytes" || die "cannot write $cg/memory.memsw.limit_in_bytes"
    fi
  else
    echo "$limit_bytes" 2>/dev/null > "$cg/memory.max" || die "cannot write $cg/memory.max"
    if [ -f "$cg/memory.swap.max" ]; then
      echo 0 2>/dev/null > "$cg/memory.swap.max" || die "cannot write $cg/memory.swap.max"
    fi
  fi
}
# Runs a command inside the cgroup $1 (the subshell joins it, then becomes the command).
cg_run() {
  local cg="$1"; shift
  ( echo "$BASHPID" > "$cg/cgroup.procs" && exec "$@" )
}
# Prints the cgroup's figures as JSON: peak bytes, failed charges (failcnt; this count stays 0 on some recent
# kernels, so the peak reaching the limit is the sign to read), OOM kills, file pages read again after the limit
# evicted them (workingset refaults), major faults.
cg_figures() {
  python3 - "$1" "$cg_version" <<'EOF'
import json, os, sys
cg, v = sys.argv[1], sys.argv[2]
def read(name):
    try:
        with open(os.path.join(cg, name)) as f:
            return f.read().strip()
    except OSError:
        return None
def keyed(name):
    pairs = (l.split() for l in (read(name) or "").splitlines())
    return {p[0]: int(p[1]) for p in pairs if len(p) == 2 and p[1].isdigit()}
def num(name):
    t = read(name)
    return int(t) if t and t.isdigit() else None
page = os.sysconf("SC_PAGE_SIZE")
if v == "1":
    stat = keyed("memory.stat")
    fails = [x for x in (num("memory.failcnt"), num("memory.memsw.failcnt")) if x is not None]
    out = {"peak_bytes": num("memory.max_usage_in_bytes"), "limit_hits": sum(fails) if fails else None,
           "oom_kills": keyed("memory.oom_control").get("oom_kill"),
           "refault_file_bytes": stat.get("total_workingset_refault_file", -1) * page, "major_faults": stat.get("total_pgmajfault")}
else:
    stat, events = keyed("memory.stat"), keyed("memory.events")
    out = {"peak_bytes": num("memory.peak"), "limit_hits": events.get("max"), "oom_kills": events.get("oom_kill"),
           "refault_file_bytes": stat.get("workingset_refault_file", -1) * page, "major_faults": stat.get("pgmajfault")}
if out["refault_file_bytes"] < 0:
    out["refault_file_bytes"] = None
print(json.dumps(out))
EOF
}
cg_new probe
cg_remove "$cg"

# --- the model -----------------------------------------------------------------------------------------------------
if [ ! -f "$model" ]; then
  mkdir -p "$(dirname "$model")"
  need_kib=$((11 * 1024 * 1024))
  free_kib=$(df -Pk "$(dirname "$model")" | awk 'NR == 2 { print $4 }')
  [ "$free_kib" -ge "$need_kib" ] \
    || die "making $model needs about 11 GiB free on its disk; $(dirname "$model") has $((free_kib / 1024 / 1024)) GiB"
  echo "making $model (about 10 GiB, a few minutes)" >&2
  "$MOED" model synth --out "$model" --arch qwen3moe --layers 16 --dim 2048 --heads 32 --kv-heads 4 --head-dim 128 \
    --experts 128 --top-k 8 --expert-ff 768 --vocab 32000 --type Q8_0 --seed 7 >&2 \
    || { rm -f "$model"; die "moed model synth failed"; }
fi

# Writes back and drops the file's pages from the page cache; prints the bytes cached before and after ("?" when
# mincore cannot be called).
drop_pages() {
  python3 - "$1" <<'EOF'
import ctypes, mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
size = os.fstat(fd).st_size
def cached():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
        libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
        page = os.sysconf("SC_PAGE_SIZE")
        addr = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        if addr is None or addr == ctypes.c_void_p(-1).value:
            return "?"
        vec = (ctypes.c_ubyte * ((size + page - 1) // page))()
        rc = libc.mincore(addr, size, vec)
        libc.munmap(addr, size)
        if rc != 0:
            return "?"
        b = bytes(vec)
        return str((len(b) - b.count(0)) * page)
    except Exception:
        return "?"
before = cached()
try:
    os.fdatasync(fd)  # dirty pages (a file just written) are not dropped
except OSError:
    pass
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
print(before, cached())
EOF
}

results="$WORK/beyond-ram.jsonl"
: > "$results"
gib() { python3 -c "import sys; print('?' if sys.argv[1] in ('?', 'None', '') else '%.2f' % (int(sys.argv[1]) / 2**30))" "$1"; }
# Runs one engine cold in a fresh cgroup: run LABEL ENGINE CONFIG COMMAND...; appends its record to $results.
run() {
  local label="$1" engine="$2" config="$3"; shift 3
  local out="$WORK/beyond-ram-$label.out" log="$WORK/beyond-ram-$label.log" cg rc cached figures
  cached=$(drop_pages "$model")
  cg_new "$label"
  rc=0
  cg_run "$cg" "$@" > "$out" 2> "$log" || rc=$?
  figures=$(cg_figures "$cg")
  cg_remove "$cg"
  python3 - "$engine" "$config" "$rc" "$limit_bytes" "$figures" "$cached" "$out" "$log" <<'EOF' >> "$results"
import json, sys
engine, config, rc, limit, figures, cached, out, log = sys.argv[1:]
before, after = cached.split()
try:
    report = json.load(open(out))
except ValueError:
    report = None
rec = {"engine": engine, "config": config, "rc": int(rc), "limit_bytes": int(limit), **json.loads(figures),
       "file_cached_before_drop": None if before == "?" else int(before),
       "file_cached_after_drop": None if after == "?" else int(after), "log": log, "report": report}
print(json.dumps(rec))
EOF
  python3 - "$results" "$model" <<'EOF'
import json, os, sys
r = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
g = lambda b: "?" if b is None else "%.2f GiB" % (b / 2**30)
name = r["engine"] + (" " + r["config"] if r["config"] else "")
state = "ok" if r["rc"] == 0 and r["report"] is not None else "FAILED (exit %d, see %s)" % (r["rc"], r["log"])
full = r["peak_bytes"] is not None and r["peak_bytes"] >= 0.99 * r["limit_bytes"]
print("%s: %s; peak %s of the %s limit%s (failcnt %s, OOM kills %s), %s of file pages read again after eviction, "
      "%s major faults; file cached %s before the drop, %s after"
      % (name, state, g(r["peak_bytes"]), g(r["limit_bytes"]), ", reached: reclaimed to stay under" if full else "",
         r["limit_hits"], r["oom_kills"], g(r["refault_file_bytes"]), r["major_faults"],
         g(r["file_cached_before_drop"]), g(r["file_cached_after_drop"])))
if r["file_cached_after_drop"] and r["file_cached_after_drop"] > 0.01 * os.path.getsize(sys.argv[2]):
    print("  warning: the file's pages could not be dropped (on tmpfs, or mapped by another process): this run was not cold")
EOF
}

size=$(stat -c %s "$model")
echo "$model: $(gib "$size") GiB; memory limit $LIMIT_GB GiB (cgroup v$cg_version, page cache included), moed cache $CACHE_GB GiB; p=$P n=$N t=$T r=$R"
for c in "${configs[@]}"; do
  pred="${c%%:*}" policy="${c#*:}"
  run "moed-$pred-$policy" moed "$c" "$MOED" bench -m "$model" -p "$P" -n "$N" -r "$R" -t "$T" --cache-gb "$CACHE_GB" \
    --backing direct --cache-policy "$policy" --predictor "$pred" "${stats[@]}" --json "${extra[@]}"
done
if [ -n "$ref" ]; then
  run llama-bench llama-bench "" "$ref" -m "$model" -p "$P" -n "$N" -r "$R" -t "$T" -o json
fi

python3 - "$results" "$P" "$N" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
p, n = sys.argv[2:]
def field(r, path):
    v = r["report"] if isinstance(r["report"], dict) else None
    for k in path.split("."):
        v = v.get(k) if isinstance(v, dict) else None
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None
def pct(v):
    return "-" if v is None else "%.1f%%" % (100 * v)
def num(v, f="%.2f"):
    return "-" if v is None else f % v
for r in rows:
    if r["engine"] == "llama-bench":
        rep = r["report"] if isinstance(r["report"], list) else []
        pp = [x["avg_ts"] for x in rep if x.get("n_prompt", 0) > 0 and x.get("n_gen", 0) == 0]
        tg = [x["avg_ts"] for x in rep if x.get("n_gen", 0) > 0 and x.get("n_prompt", 0) == 0]
        r["pp"], r["tg"] = (pp[0] if pp else None), (tg[0] if tg else None)
    else:
        r["pp"], r["tg"] = field(r, "prefill_tokens_per_s"), field(r, "decode_tokens_per_s")
cols = ["engine", "prefill tok/s", "decode tok/s", "hit (resident at routing)", "Belady hit (same accesses)",
        "prefetch in time", "prefetch late", "on demand", "MB read/token", "stall ms/token", "decode ms/token",
        "peak GiB"]
print()
print("| " + " | ".join(cols) + " |")
print("|" + "|".join("---" for _ in cols) + "|")
for r in rows:
    name = r["engine"] + (" " + r["config"] if r["config"] else "") + ("" if r["rc"] == 0 else " (exit %d)" % r["rc"])
    c = lambda k: field(r, "cache." + k)
    print("| " + " | ".join([name, num(r["pp"]), num(r["tg"]), pct(c("decode_hit_rate")), pct(c("replay_belady_hit_rate")),
          pct(c("decode_prefetch_in_time_rate")), pct(c("decode_prefetch_late_rate")), pct(c("decode_demand_rate")),
          num(c("decode_mb_read_per_token"), "%.1f"), num(c("decode_stall_ms_per_token"), "%.1f"),
          num(c("decode_ms_per_token"), "%.1f"),
          "-" if r["peak_bytes"] is None else "%.2f" % (r["peak_bytes"] / 2**30)]) + " |")
print()
ref = next((r for r in rows if r["engine"] == "llama-bench"), None)
base = next((r for r in rows if r["engine"] == "moed" and r["config"].split(":")[0] == "none"), None)
bound = None
rate = None
if base is None:
    print("no overlap bound: no moed run with --predictor none in CONFIGS")
else:
    mb, gbps = field(base, "cache.decode_mb_read_per_token"), field(base, "cache.disk_direct_read_gbps")
    ms, stall = field(base, "cache.decode_ms_per_token"), field(base, "cache.decode_stall_ms_per_token")
    if base["rc"] != 0 or base["report"] is None:
        print("no overlap bound: the %s run failed" % base["config"])
    elif None in (mb, gbps, ms, stall) or gbps <= 0:
        print("no overlap bound: the %s run lacks decode_mb_read_per_token, disk_direct_read_gbps, decode_ms_per_token "
              "or decode_stall_ms_per_token" % base["config"])
    else:
        # The disk's rate measured before the run can be below what the run's own reads then get (a virtual disk's
        # host caches and throttles): the bound takes the higher of it and the best rate a moed run sustained over
        # its whole decode (bytes read / decode time: a floor on the disk's rate, the disk was not always busy).
        achieved = max([field(r, "cache.decode_mb_read_per_token") / field(r, "cache.decode_ms_per_token")
                        for r in rows if r["engine"] == "moed" and field(r, "cache.decode_mb_read_per_token")
                        and field(r, "cache.decode_ms_per_token")] or [0])
        rate = max(gbps, achieved)
        load_ms, compute_ms = mb / rate, ms - stall  # MB / (GB/s) = ms
        if max(load_ms, compute_ms) > 0:
            bound = 1000 / max(load_ms, compute_ms)
            print("overlap bound (from %s): reading its %.1f MB/token at %.2f GB/s (the disk measured %.2f before the"
                  " run, moed's reads sustained %.2f) takes %.1f ms, computing a token %.1f ms (%.1f ms/token less %.1f"
                  " stalled): at most %.2f tok/s with every read hidden behind compute"
                  % (base["config"], mb, rate, gbps, achieved, load_ms, compute_ms, ms, stall, bound))
pmb = field(base, "cache.prefill_mb_read_per_prompt") if base else None
if bound and pmb and rate:
    print("prefill (from %s): a %s-token prompt read %.0f MB; at %.2f GB/s that alone takes %.0f ms: at most %.2f"
          " tok/s of prefill" % (base["config"], p, pmb, rate, pmb / rate, int(p) * 1000 / (pmb / rate)))
for r in rows:
    if r["engine"] != "moed" or r["tg"] is None:
        continue
    parts = []
    if bound:
        parts.append("decode %.2f of the bound" % (r["tg"] / bound))
    if ref and ref["tg"]:
        parts.append("decode %.2fx llama-bench's" % (r["tg"] / ref["tg"]))
    if ref and ref["pp"] and r["pp"]:
        parts.append("prefill %.2fx llama-bench's" % (r["pp"] / ref["pp"]))
    if parts:
        print("moed %s: %s" % (r["config"], ", ".join(parts)))
print("raw results: %s" % sys.argv[1])
sys.exit(1 if any(r["rc"] != 0 or r["report"] is None for r in rows) else 0)
EOF
