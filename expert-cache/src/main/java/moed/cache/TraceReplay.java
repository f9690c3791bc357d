package moed.cache;

import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.TreeSet;

/**
 * Replays a recorded sequence of expert accesses (entry ids) through cache policies of a given capacity (in
 * experts) and counts hits: LRU, LFU with ageing and the heat-weighted policy (fast forms of the cache's own
 * policies), and Belady's optimum (evict the entry whose next use is farthest away),
 * the bound no online policy can beat. Used to judge the real cache and to draw miss-ratio curves.
 */
public final class TraceReplay {
    private TraceReplay() {
    }

    public static long lruHits(int[] trace, int capacity) {
        return lruHits(trace, capacity, null)[0];
    }

    /** LRU in O(1) per access, returning {all hits, hits where {@code counted} is true (null: all)}. */
    public static long[] lruHits(int[] trace, int capacity, boolean[] counted) {
        if (capacity <= 0) {
            return new long[2];
        }
        LinkedHashSet<Integer> order = new LinkedHashSet<>();
        long hits = 0;
        long countedHits = 0;
        for (int t = 0; t < trace.length; t++) {
            int x = trace[t];
            if (order.remove(x)) {
                hits++;
                if (counted == null || counted[t]) {
                    countedHits++;
                }
            } else if (order.size() == capacity) {
                Integer oldest = order.iterator().next();
                order.remove(oldest);
            }
            order.add(x);
        }
        return new long[] {hits, countedHits};
    }

    /** Belady's optimum: on a miss with a full cache, evict the entry used again farthest in the future. */
    public static long beladyHits(int[] trace, int capacity) {
        return beladyHits(trace, capacity, null)[0];
    }

    /**
     * Replays the trace through one of the cache's own eviction policies (the same class the live cache uses),
     * with room for {@code capacity} entries; nothing is pinned. Entry ids must be below the policy's size.
     */
    public static long policyHits(int[] trace, int capacity, EvictionPolicy policy) {
        return policyHits(trace, capacity, policy, null)[0];
    }

    /**
     * As {@link #policyHits(int[], int, EvictionPolicy)}, returning {all hits, hits at the positions where
     * {@code counted} is true} (counted may be null: then both are all hits).
     */
    public static long[] policyHits(int[] trace, int capacity, EvictionPolicy policy, boolean[] counted) {
        if (capacity <= 0) {
            return new long[2];
        }
        int max = 0;
        for (int x : trace) {
            max = Math.max(max, x);
        }
        int[] resident = new int[capacity];
        int[] pos = new int[max + 1];
        java.util.Arrays.fill(pos, -1);
        int n = 0;
        long hits = 0;
        long countedHits = 0;
        for (int t = 0; t < trace.length; t++) {
            int x = trace[t];
            if (pos[x] >= 0) {
                hits++;
                if (counted == null || counted[t]) {
                    countedHits++;
                }
                policy.onAccess(x);
                continue;
            }
            if (n == capacity) {
                int v = policy.victim(resident, n, e -> true);
                int p = pos[v];
                resident[p] = resident[--n];
                pos[resident[p]] = p;
                pos[v] = -1;
                policy.onEvict(v);
            }
            resident[n] = x;
            pos[x] = n++;
            policy.onInsert(x);
            policy.onAccess(x);
        }
        return new long[] {hits, countedHits};
    }

    /** Belady's optimum, returning {all hits, hits at the positions where {@code counted} is true}. */
    public static long[] beladyHits(int[] trace, int capacity, boolean[] counted) {
        if (capacity <= 0) {
            return new long[2];
        }
        int n = trace.length;
        int[] next = new int[n];
        Map<Integer, Integer> seen = new HashMap<>();
        for (int t = n - 1; t >= 0; t--) {
            next[t] = seen.getOrDefault(trace[t], Integer.MAX_VALUE);
            seen.put(trace[t], t);
        }
        TreeSet<long[]> byNext = new TreeSet<>((a, b) -> a[0] != b[0] ? Long.compare(a[0], b[0]) : Long.compare(a[1], b[1]));
        Map<Integer, long[]> key = new HashMap<>();
        long hits = 0;
        long countedHits = 0;
        for (int t = 0; t < n; t++) {
            int x = trace[t];
            long[] k = key.remove(x);
            if (k != null) {
                hits++;
                if (counted == null || counted[t]) {
                    countedHits++;
                }
                byNext.remove(k);
            } else if (key.size() == capacity) {
                long[] far = byNext.pollLast();
                key.remove((int) far[1]);
            }
            long[] nk = {next[t], x};
            byNext.add(nk);
            key.put(x, nk);
        }
        return new long[] {hits, countedHits};
    }

    /**
     * Exactly what {@link #policyHits(int[], int, EvictionPolicy, boolean[])} gives for {@link LfuPolicy}
     * ({@code heat == null}) or {@link HeatWeightedPolicy} ({@code heat} given) over {@code entries} entries, in
     * O(log capacity) per access instead of a scan of the resident entries per miss: the resident entries are kept
     * ordered by (value, last access), and re-ordered only when the counts age. For long recordings.
     */
    public static long[] agedFrequencyHits(int[] trace, int capacity, int entries, double[] heat, boolean[] counted) {
        if (capacity <= 0) {
            return new long[2];
        }
        AgedHeap h = new AgedHeap(entries, Math.min(capacity, entries), heat);
        long clock = 0;
        long agePeriod = 8L * Math.max(entries, 1);
        long hits = 0;
        long countedHits = 0;
        for (int t = 0; t < trace.length; t++) {
            int x = trace[t];
            boolean hit = h.pos[x] >= 0;
            if (hit) {
                hits++;
                if (counted == null || counted[t]) {
                    countedHits++;
                }
            } else {
                h.last[x] = ++clock; // onInsert
            }
            // onAccess
            h.count[x] += 1;
            h.last[x] = ++clock;
            if (hit) {
                h.siftDown(h.pos[x]); // its key only grew
            } else if (h.size == capacity) {
                h.replaceMin(x);
            } else {
                h.push(x);
            }
            if (clock % agePeriod == 0) {
                for (int e = 0; e < entries; e++) {
                    h.count[e] *= 0.5;
                }
                h.heapify(); // halving reorders heat-weighted values (the heat term is not halved)
            }
        }
        return new long[] {hits, countedHits};
    }

    /** Resident entries in a binary min-heap on (heat * agePeriod + count, last access), with positions. */
    private static final class AgedHeap {
        final double[] count;
        final long[] last;
        final double[] weight;
        final int[] heap;
        final int[] pos;
        int size;

        AgedHeap(int entries, int capacity, double[] heat) {
            count = new double[entries];
            last = new long[entries];
            weight = new double[entries];
            long agePeriod = 8L * Math.max(entries, 1);
            for (int e = 0; e < entries; e++) {
                weight[e] = heat != null ? heat[e] * agePeriod : 0;
            }
            heap = new int[capacity];
            pos = new int[entries];
            java.util.Arrays.fill(pos, -1);
        }

        boolean less(int a, int b) {
            double va = weight[a] + count[a];
            double vb = weight[b] + count[b];
            return va < vb || (va == vb && last[a] < last[b]);
        }

        void push(int x) {
            heap[size] = x;
            pos[x] = size;
            siftUp(size++);
        }

        /** Evicts the least valuable entry and puts x in its place. */
        void replaceMin(int x) {
            pos[heap[0]] = -1;
            heap[0] = x;
            pos[x] = 0;
            siftDown(0);
        }

        void heapify() {
            for (int i = size / 2 - 1; i >= 0; i--) {
                siftDown(i);
            }
        }

        void siftUp(int i) {
            int x = heap[i];
            while (i > 0) {
                int p = (i - 1) >>> 1;
                if (!less(x, heap[p])) {
                    break;
                }
                heap[i] = heap[p];
                pos[heap[i]] = i;
                i = p;
            }
            heap[i] = x;
            pos[x] = i;
        }

        void siftDown(int i) {
            int x = heap[i];
            while (true) {
                int c = 2 * i + 1;
                if (c >= size) {
                    break;
                }
                if (c + 1 < size && less(heap[c + 1], heap[c])) {
                    c++;
                }
                if (!less(heap[c], x)) {
                    break;
                }
                heap[i] = heap[c];
                pos[heap[i]] = i;
                i = c;
            }
            heap[i] = x;
            pos[x] = i;
        }
    }
}
