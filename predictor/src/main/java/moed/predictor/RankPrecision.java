package moed.predictor;

/**
 * The planner's measured cost model: how often a prediction came true, by look-ahead distance and rank (the
 * predictor's best guess is rank 0). When the disk is the bottleneck, a prefetch that comes true saves a stall
 * and costs no extra bytes (the expert would have been read on demand), while one that does not costs a whole
 * expert's read and evicts something: worth it only above an even chance. So the planner prefetches a rank only
 * while its measured precision is at least the minimum, and always protects the predicted experts already
 * resident (that costs nothing). Optimistic until a rank has been scored {@code minSamples} times.
 * Not thread safe: owned by the planner.
 */
final class RankPrecision {
    private final long[][] made;
    private final long[][] right;
    private final int minSamples;

    RankPrecision(int maxDistance, int ranks, int minSamples) {
        made = new long[maxDistance + 1][ranks];
        right = new long[maxDistance + 1][ranks];
        this.minSamples = minSamples;
    }

    void record(int distance, int rank, boolean cameTrue) {
        made[distance][rank]++;
        if (cameTrue) {
            right[distance][rank]++;
        }
    }

    /** The share of predictions at this distance and rank that came true; 1 until scored often enough. */
    double precision(int distance, int rank) {
        long n = made[distance][rank];
        return n < minSamples ? 1.0 : (double) right[distance][rank] / n;
    }
}
