package moed.tools.analyze;

import java.util.List;

/**
 * What {@code moed analyze} found in a recording: plain data, printed as text, JSON or HTML. Rates are in
 * [0, 1]; NaN where the recording holds nothing to compute them from (e.g. no cache, no predictor).
 */
public record Report(Summary summary, List<LayerRow> layers, int[][] heat, List<TimePoint> hitRateOverTime,
                     List<HistogramBin> stallHistogram, List<Transition> transitions, List<PredictorRow> predictor,
                     Curves curves, Recommendation recommendation, List<String> notes) {

    public record Summary(String model, int layers, int experts, int expertsUsed, long expertBytes, long budgetBytes,
                          int slots, String backing, String policy, String predictor, int requests, long promptTokens,
                          long decodeTokens, double prefillTokensPerSecond, double decodeTokensPerSecond,
                          long accesses, double hitRate, double lateHitRate, double missRate, double stallMsPerToken,
                          double computeMsPerToken, double loadedMbPerToken, long loads, long bytesLoaded,
                          long prefetchesIssued, long prefetchesUsed, long prefetchesWasted, long prefetchesCancelled,
                          long evictions, double backingGbps, String backingGbpsSource) {
    }

    public record LayerRow(int layer, long accesses, double hitRate, double lateHitRate, double stallMsPerToken,
                           long prefetchesIssued, long prefetchesUsed, long prefetchesWasted, int hottestExpert,
                           double hottestShare) {
    }

    /** Hit rate of the accesses that fell in one slice of the recording's time. */
    public record TimePoint(double seconds, long accesses, double hitRate) {
    }

    /** Waits for loads in [fromMicros, toMicros). */
    public record HistogramBin(double fromMicros, double toMicros, long count, double totalMs) {
    }

    /**
     * How much layer {@code from}'s choice says about layer {@code from + 1}'s: mutual information (bits) between an
     * expert chosen at one layer and one chosen at the next, and the strongest pair with its lift P(j|i) / P(j).
     */
    public record Transition(int from, double mutualInformationBits, int strongestFrom, int strongestTo, double lift) {
    }

    /** Predictions made {@code distance} layers ahead for {@code layer}, against the router's choice. */
    public record PredictorRow(int layer, int distance, long predictions, double recall, double precision) {
    }

    /** Miss-ratio curves: for each size (entries), the hit rate each policy reaches on the recorded trace. */
    public record Curves(long traceLength, long tokens, long distinctExperts, List<CurvePoint> points) {
    }

    public record CurvePoint(int entries, double gib, double lru, double lfu, double heat, double belady,
                             double stallMsPerToken, double tokensPerSecond) {
    }

    public record Recommendation(double cacheGib, int entries, String policy, double hitRate, double tokensPerSecond,
                                 String reason) {
    }
}
