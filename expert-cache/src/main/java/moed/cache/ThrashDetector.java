package moed.cache;

/**
 * Tells when a cache is thrashing: over an interval most accesses missed and waiting for loads took a large share
 * of the time. Says so at most once a minute, so a caller may check after every request.
 */
public final class ThrashDetector {
    /** What thrashing looked like over the interval checked. */
    public record Thrashing(double hitRate, double stallShare) {
    }

    private static final long QUIET_NANOS = 60_000_000_000L;
    private long lastWarning;
    private boolean warned;

    /** The thrashing between two snapshots of the counters taken {@code elapsedNanos} apart, or null if none (or too soon). */
    public synchronized Thrashing check(CacheCounters before, CacheCounters after, long elapsedNanos) {
        CacheCounters d = after.since(before);
        double hitRate = d.hitRate() + d.prefetchHitRate(); // resident when the step needed it
        if (d.accesses() < 100 || hitRate >= 0.5 || d.stallNanos < elapsedNanos / 4
                || warned && System.nanoTime() - lastWarning < QUIET_NANOS) {
            return null;
        }
        warned = true;
        lastWarning = System.nanoTime();
        return new Thrashing(hitRate, (double) d.stallNanos / elapsedNanos);
    }
}
