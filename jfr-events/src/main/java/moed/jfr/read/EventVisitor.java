package moed.jfr.read;

/**
 * Receives moed's events one at a time, in the order each thread emitted them (events of one thread keep their
 * order; across threads they interleave by buffer). Arguments are plain values and arrays that the caller reuses:
 * copy what you keep. This is how recordings of any size are read in bounded memory.
 */
public interface EventVisitor {
    default void session(MoedRecording.Session s) {
    }

    /**
     * {@code experts[0..k)} and {@code weights[0..k)} are reused between calls; {@code rerouted}: how many of the
     * experts cache-aware routing put in place of non-resident ones.
     */
    default void decision(long time, long request, long step, int position, int layer, int[] experts, float[] weights, int k,
                          int rerouted) {
    }

    /** {@code outcome}: an {@link moed.jfr.Events.ExpertAccess} code. */
    default void access(long time, int layer, int expert, int outcome, long waitNanos) {
    }

    /** {@code reason}: an {@link moed.jfr.Events.ExpertLoad} code. */
    default void load(long time, int layer, int expert, long bytes, long nanos, int reason, String tier) {
    }

    /** {@code action}: an {@link moed.jfr.Events.Prefetch} code. */
    default void prefetch(long time, int layer, int expert, int action) {
    }

    default void eviction(long time, int layer, int expert) {
    }

    /**
     * {@code phase}: an {@link moed.jfr.Events.TokenStep} code; {@code promptTokens}: prompt rows a serving step
     * carried besides its {@code tokens} decode rows.
     */
    default void step(long time, long request, long step, int phase, int tokens, int promptTokens, long nanos) {
    }

    default void request(long time, long request, int promptTokens, int generatedTokens, String stopReason, long nanos) {
    }

    default void gauge(long time, long residentBytes, long budgetBytes, int entries) {
    }

    /** {@code experts[0..n)} is reused between calls. */
    default void prediction(long time, long step, int token, int layer, int distance, int[] experts, int n) {
    }
}
