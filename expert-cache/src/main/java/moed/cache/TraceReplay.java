package moed.cache;

import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.TreeSet;

/**
 * Replays a recorded sequence of expert accesses (entry ids) through cache policies of a given capacity (in
 * experts) and counts hits: LRU, LFU, and Belady's optimum (evict the entry whose next use is farthest away),
 * the bound no online policy can beat. Used to judge the real cache and to draw miss-ratio curves.
 */
public final class TraceReplay {
    private TraceReplay() {
    }

    public static long lruHits(int[] trace, int capacity) {
        LinkedHashSet<Integer> order = new LinkedHashSet<>();
        long hits = 0;
        for (int x : trace) {
            if (order.remove(x)) {
                hits++;
            } else if (order.size() == capacity) {
                Integer oldest = order.iterator().next();
                order.remove(oldest);
            }
            order.add(x);
        }
        return hits;
    }

    /** LFU with no ageing over the trace (ties: least recently used). */
    public static long lfuHits(int[] trace, int capacity) {
        Map<Integer, long[]> freq = new HashMap<>(); // entry -> {count, lastUse}
        java.util.Set<Integer> cached = new java.util.HashSet<>();
        long hits = 0;
        for (int t = 0; t < trace.length; t++) {
            int x = trace[t];
            long[] f = freq.computeIfAbsent(x, k -> new long[2]);
            if (cached.contains(x)) {
                hits++;
            } else {
                if (cached.size() == capacity) {
                    int victim = -1;
                    for (int c : cached) {
                        long[] fc = freq.get(c);
                        if (victim < 0 || fc[0] < freq.get(victim)[0] || (fc[0] == freq.get(victim)[0] && fc[1] < freq.get(victim)[1])) {
                            victim = c;
                        }
                    }
                    cached.remove(victim);
                }
                cached.add(x);
            }
            f[0]++;
            f[1] = t;
        }
        return hits;
    }

    /** Belady's optimum: on a miss with a full cache, evict the entry used again farthest in the future. */
    public static long beladyHits(int[] trace, int capacity) {
        int n = trace.length;
        int[] next = new int[n];
        Map<Integer, Integer> seen = new HashMap<>();
        for (int t = n - 1; t >= 0; t--) {
            next[t] = seen.getOrDefault(trace[t], Integer.MAX_VALUE);
            seen.put(trace[t], t);
        }
        // Cached entries ordered by their next use (entry id breaks ties).
        TreeSet<long[]> byNext = new TreeSet<>((a, b) -> a[0] != b[0] ? Long.compare(a[0], b[0]) : Long.compare(a[1], b[1]));
        Map<Integer, long[]> key = new HashMap<>();
        long hits = 0;
        for (int t = 0; t < n; t++) {
            int x = trace[t];
            long[] k = key.remove(x);
            if (k != null) {
                hits++;
                byNext.remove(k);
            } else if (key.size() == capacity) {
                long[] far = byNext.pollLast();
                key.remove((int) far[1]);
            }
            long[] nk = {next[t], x};
            byNext.add(nk);
            key.put(x, nk);
        }
        return hits;
    }

}
