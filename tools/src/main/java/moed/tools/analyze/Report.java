package moed.tools.analyze;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonUnwrapped;
import java.util.List;

/**
 * What {@code moed analyze} found in a recording: plain data, printed as text, JSON or HTML. Rates are in
 * [0, 1]; NaN where the recording holds nothing to compute them from (e.g. no cache, no predictor).
 */
public record Report(Summary summary, List<LayerRow> layers, int[][] heat, List<TimePoint> hitRateOverTime,
                     List<HistogramBin> stallHistogram, List<Transition> transitions, List<PredictorRow> predictor,
                     Curves curves, Recommendation recommendation, List<String> notes) {

    /**
     * The headline figures, in named parts. In JSON the parts are unwrapped into one flat {@code summary} object (its
     * field names and order are those of the single record it once was), so scripts reading it are unaffected.
     */
    public record Summary(@JsonUnwrapped Model model, @JsonUnwrapped CacheSetup cache, @JsonUnwrapped Throughput throughput,
                          @JsonUnwrapped Outcomes outcomes, @JsonUnwrapped PerToken perToken, @JsonUnwrapped Traffic traffic,
                          @JsonUnwrapped Bandwidth bandwidth) {
    }

    /** The model: from the recording's session, or, without one, as far as its routing shows. */
    public record Model(@JsonProperty("model") String name, int layers, int experts, int expertsUsed, long expertBytes) {
    }

    /** How the expert cache was set up; budget 0 means no cache, "?" a recording without a session. */
    public record CacheSetup(long budgetBytes, int slots, String backing, String policy, String predictor) {
    }

    /** Requests and tokens, and the rate of each phase. */
    public record Throughput(int requests, long promptTokens, long decodeTokens, double prefillTokensPerSecond,
                             double decodeTokensPerSecond) {
    }

    /**
     * The expert accesses and the share of each outcome, by how routing found the expert: resident (the hit rate
     * comparable with the replays of the curves), prefetched and in time, prefetched but late, or loaded on demand
     * after routing, however early it arrived (a miss; an in-place computation counts as one too).
     */
    public record Outcomes(long accesses, double hitRate, double prefetchHitRate, double prefetchLateRate, double missRate) {
    }

    /** Per token (of decode, or of prefill when the recording has no decode): waiting, computing, bytes loaded. */
    public record PerToken(double stallMsPerToken, double computeMsPerToken, double loadedMbPerToken) {
    }

    /** What moved between the backing and the resident tier. */
    public record Traffic(long loads, long bytesLoaded, @JsonUnwrapped Prefetches prefetches, long evictions) {
    }

    /** Prefetches by fate (see {@code moed.Prefetch}'s actions). */
    public record Prefetches(@JsonProperty("prefetchesIssued") long issued, @JsonProperty("prefetchesUsed") long used,
                             @JsonProperty("prefetchesWasted") long wasted,
                             @JsonProperty("prefetchesCancelled") long cancelled) {
    }

    /** The backing's read rate that prices a miss, and where that figure comes from. */
    public record Bandwidth(double backingGbps, String backingGbpsSource) {
    }

    public record LayerRow(int layer, long accesses, double hitRate, double prefetchHitRate, double prefetchLateRate,
                           double stallMsPerToken,
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
