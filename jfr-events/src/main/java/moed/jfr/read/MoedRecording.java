package moed.jfr.read;

import java.util.List;

/**
 * A moed JFR recording as plain data, events in time order (nanoseconds since the recording's first event).
 * Readers of recordings (the analyzer, tests) work from this, never from {@code jdk.jfr.consumer} directly.
 */
public record MoedRecording(Session session, List<Decision> decisions, List<Access> accesses, List<Load> loads,
                           List<PrefetchAction> prefetches, List<Long> evictions, List<Step> steps,
                           List<Request> requests, List<Gauge> gauges, List<Prediction> predictions) {

    /** The model and cache set-up; null fields when the recording has no session event. */
    public record Session(String model, int layers, int experts, int expertsUsed, long expertBytes, long budgetBytes,
                          int slots, String backing, String policy, String predictor) {
    }

    public record Decision(long time, long request, long step, int position, int layer, int[] experts, float[] weights) {
    }

    /** Outcomes as in {@code moed.ExpertAccess}. */
    public record Access(long time, int layer, int expert, int outcome, long waitNanos) {
        public static final int HIT = 0;
        public static final int MISS = 1;
        public static final int LATE_HIT = 2;
        public static final int IN_PLACE = 3;
    }

    public record Load(long time, int layer, int expert, long bytes, long nanos, int reason, String tier) {
        public static final int DEMAND = 0;
        public static final int PREFETCH = 1;
        public static final int WARM = 2;
    }

    public record PrefetchAction(long time, int layer, int expert, int action) {
        public static final int ISSUED = 0;
        public static final int USED = 1;
        public static final int WASTED = 2;
        public static final int CANCELLED = 3;
    }

    /** Phase 0 prefill, 1 decode. */
    public record Step(long time, long request, long step, int phase, int tokens, long nanos) {
    }

    public record Request(long time, long request, int promptTokens, int generatedTokens, String stopReason, long nanos) {
    }

    public record Gauge(long time, long residentBytes, long budgetBytes, int entries) {
    }

    public record Prediction(long time, long step, int token, int layer, int distance, int[] experts) {
    }
}
