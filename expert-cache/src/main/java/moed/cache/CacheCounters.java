package moed.cache;

/**
 * What the cache did, in totals and per entry (index layer * experts + expert). Updated under the cache's lock;
 * {@link ExpertCache#counters()} hands out a consistent copy.
 */
public final class CacheCounters {
    /** Accesses whose expert was resident when routing chose it (and not there by an unused prefetch). */
    public long hits;
    /** Accesses whose expert was neither resident nor prefetched when routing chose it: loaded on demand (or computed in place), however early the load finished. */
    public long misses;
    /** Accesses whose expert a prediction had prefetched and that found it resident: the prefetch came in time. */
    public long prefetchHits;
    /** Accesses whose expert a prediction had prefetched but that waited for it: the prefetch came late. */
    public long prefetchLate;
    public long stallNanos;
    public long loads;
    public long bytesLoaded;
    public long loadNanos;
    public long evictions;
    public long prefetchIssued;
    public long prefetchUsed;
    public long prefetchWasted;
    public long prefetchCancelled;
    /** Of the cancelled prefetches, those stopped part way through their read (their bytes read count in bytesLoaded). */
    public long prefetchStopped;
    public long directComputes;
    /** Reads of the backing that failed (the slot was freed again; a later acquire retries). */
    public long loadFailures;
    public final long[] entryHits;
    public final long[] entryMisses;
    public final long[] entryStallNanos;
    public final long[] entryPrefetchUsed;
    public final long[] entryPrefetchWasted;
    public final long[] entryPrefetchHits;
    public final long[] entryPrefetchLate;

    public CacheCounters(int entries) {
        entryHits = new long[entries];
        entryMisses = new long[entries];
        entryStallNanos = new long[entries];
        entryPrefetchUsed = new long[entries];
        entryPrefetchWasted = new long[entries];
        entryPrefetchHits = new long[entries];
        entryPrefetchLate = new long[entries];
    }

    CacheCounters copy() {
        CacheCounters c = new CacheCounters(entryHits.length);
        c.hits = hits;
        c.misses = misses;
        c.prefetchHits = prefetchHits;
        c.prefetchLate = prefetchLate;
        c.stallNanos = stallNanos;
        c.loads = loads;
        c.bytesLoaded = bytesLoaded;
        c.loadNanos = loadNanos;
        c.evictions = evictions;
        c.prefetchIssued = prefetchIssued;
        c.prefetchUsed = prefetchUsed;
        c.prefetchWasted = prefetchWasted;
        c.prefetchCancelled = prefetchCancelled;
        c.prefetchStopped = prefetchStopped;
        c.directComputes = directComputes;
        c.loadFailures = loadFailures;
        System.arraycopy(entryHits, 0, c.entryHits, 0, entryHits.length);
        System.arraycopy(entryMisses, 0, c.entryMisses, 0, entryMisses.length);
        System.arraycopy(entryStallNanos, 0, c.entryStallNanos, 0, entryStallNanos.length);
        System.arraycopy(entryPrefetchUsed, 0, c.entryPrefetchUsed, 0, entryPrefetchUsed.length);
        System.arraycopy(entryPrefetchWasted, 0, c.entryPrefetchWasted, 0, entryPrefetchWasted.length);
        System.arraycopy(entryPrefetchHits, 0, c.entryPrefetchHits, 0, entryPrefetchHits.length);
        System.arraycopy(entryPrefetchLate, 0, c.entryPrefetchLate, 0, entryPrefetchLate.length);
        return c;
    }

    /** Every lookup of an expert: hits, prefetch hits, late prefetches and misses (including those computed in place). */
    public long accesses() {
        return hits + prefetchHits + prefetchLate + misses;
    }

    /**
     * Accesses whose expert was resident when routing chose it, over all accesses: what the eviction policy achieved,
     * comparable with replays of the routing trace through LRU, LFU or Belady's optimum (which do not prefetch).
     */
    public double hitRate() {
        return share(hits);
    }

    /** Accesses served by a prefetch that arrived in time, over all accesses. */
    public double prefetchHitRate() {
        return share(prefetchHits);
    }

    /** Accesses that waited for a prefetch still on its way, over all accesses. */
    public double prefetchLateRate() {
        return share(prefetchLate);
    }

    /** Accesses loaded on demand after routing (or computed in place), over all accesses. */
    public double missRate() {
        return share(misses);
    }

    private double share(long n) {
        long all = accesses();
        return all == 0 ? 0 : (double) n / all;
    }

    /** What happened between {@code before} (an earlier snapshot of the same cache) and this snapshot: totals only. */
    public CacheCounters since(CacheCounters before) {
        CacheCounters d = new CacheCounters(0);
        d.hits = hits - before.hits;
        d.misses = misses - before.misses;
        d.prefetchHits = prefetchHits - before.prefetchHits;
        d.prefetchLate = prefetchLate - before.prefetchLate;
        d.stallNanos = stallNanos - before.stallNanos;
        d.loads = loads - before.loads;
        d.bytesLoaded = bytesLoaded - before.bytesLoaded;
        d.loadNanos = loadNanos - before.loadNanos;
        d.evictions = evictions - before.evictions;
        d.prefetchIssued = prefetchIssued - before.prefetchIssued;
        d.prefetchUsed = prefetchUsed - before.prefetchUsed;
        d.prefetchWasted = prefetchWasted - before.prefetchWasted;
        d.prefetchCancelled = prefetchCancelled - before.prefetchCancelled;
        d.prefetchStopped = prefetchStopped - before.prefetchStopped;
        d.directComputes = directComputes - before.directComputes;
        d.loadFailures = loadFailures - before.loadFailures;
        return d;
    }
}
