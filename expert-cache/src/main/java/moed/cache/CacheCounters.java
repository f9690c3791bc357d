package moed.cache;

/**
 * What the cache did, in totals and per entry (index layer * experts + expert). Updated under the cache's lock;
 * {@link ExpertCache#counters()} hands out a consistent copy.
 */
public final class CacheCounters {
    public long hits;
    public long misses;
    /** Accesses that found their expert still loading (a prefetch too late) and waited. */
    public long lateHits;
    public long stallNanos;
    public long loads;
    public long bytesLoaded;
    public long loadNanos;
    public long evictions;
    public long prefetchIssued;
    public long prefetchUsed;
    public long prefetchWasted;
    public long prefetchCancelled;
    public long directComputes;
    /** Reads of the backing that failed (the slot was freed again; a later acquire retries). */
    public long loadFailures;
    public final long[] entryHits;
    public final long[] entryMisses;
    public final long[] entryStallNanos;
    public final long[] entryPrefetchUsed;
    public final long[] entryPrefetchWasted;

    public CacheCounters(int entries) {
        entryHits = new long[entries];
        entryMisses = new long[entries];
        entryStallNanos = new long[entries];
        entryPrefetchUsed = new long[entries];
        entryPrefetchWasted = new long[entries];
    }

    CacheCounters copy() {
        CacheCounters c = new CacheCounters(entryHits.length);
        c.hits = hits;
        c.misses = misses;
        c.lateHits = lateHits;
        c.stallNanos = stallNanos;
        c.loads = loads;
        c.bytesLoaded = bytesLoaded;
        c.loadNanos = loadNanos;
        c.evictions = evictions;
        c.prefetchIssued = prefetchIssued;
        c.prefetchUsed = prefetchUsed;
        c.prefetchWasted = prefetchWasted;
        c.prefetchCancelled = prefetchCancelled;
        c.directComputes = directComputes;
        c.loadFailures = loadFailures;
        System.arraycopy(entryHits, 0, c.entryHits, 0, entryHits.length);
        System.arraycopy(entryMisses, 0, c.entryMisses, 0, entryMisses.length);
        System.arraycopy(entryStallNanos, 0, c.entryStallNanos, 0, entryStallNanos.length);
        System.arraycopy(entryPrefetchUsed, 0, c.entryPrefetchUsed, 0, entryPrefetchUsed.length);
        System.arraycopy(entryPrefetchWasted, 0, c.entryPrefetchWasted, 0, entryPrefetchWasted.length);
        return c;
    }

    /** Every lookup of an expert: hits, misses (including those computed in place) and late hits. */
    public long accesses() {
        return hits + misses + lateHits;
    }

    /** Accesses that found the expert resident, over all accesses (late hits count as misses here). */
    public double hitRate() {
        long all = accesses();
        return all == 0 ? 0 : (double) hits / all;
    }

    /** What happened between {@code before} (an earlier snapshot of the same cache) and this snapshot: totals only. */
    public CacheCounters since(CacheCounters before) {
        CacheCounters d = new CacheCounters(0);
        d.hits = hits - before.hits;
        d.misses = misses - before.misses;
        d.lateHits = lateHits - before.lateHits;
        d.stallNanos = stallNanos - before.stallNanos;
        d.loads = loads - before.loads;
        d.bytesLoaded = bytesLoaded - before.bytesLoaded;
        d.loadNanos = loadNanos - before.loadNanos;
        d.evictions = evictions - before.evictions;
        d.prefetchIssued = prefetchIssued - before.prefetchIssued;
        d.prefetchUsed = prefetchUsed - before.prefetchUsed;
        d.prefetchWasted = prefetchWasted - before.prefetchWasted;
        d.prefetchCancelled = prefetchCancelled - before.prefetchCancelled;
        d.directComputes = directComputes - before.directComputes;
        d.loadFailures = loadFailures - before.loadFailures;
        return d;
    }
}
