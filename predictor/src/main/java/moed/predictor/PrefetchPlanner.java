package moed.predictor;

import moed.cache.ExpertCache;

/**
 * Turns predictions into cache work, on the compute thread, at these moments of each layer:
 * <ul>
 *   <li>before layer 0 (when it has experts; no earlier layer can predict it): predict it from the token's
 *       embedding, distance 0, the attention's time ahead of need;</li>
 *   <li>after layer l's attention: predict layers l+1 (and l+2 with look-ahead 2) and prefetch the likely experts
 *       (top-k, widened by up to {@code margin} while the predicted probability mass is below {@code mass}), with
 *       the number of layers until they are needed as deadline, each rank only while its measured precision is at
 *       least {@code minPrecision} ({@link RankPrecision}); predicted experts are protected from eviction;</li>
 *   <li>after layer l's routing (when the cache has already started loading the chosen experts it lacks):
 *       predictions for layer l that did not come true are cancelled (a read under way stops at its next part),
 *       and every prediction of a one-token step for layer l is scored by rank.</li>
 * </ul>
 * Prefetches used and wasted are counted by the cache. Not thread safe: owned by the compute thread.
 */
public final class PrefetchPlanner {
    /**
     * The precision a prediction's rank needs before it is prefetched: an even chance, where a right prefetch's
     * saved stall and a wrong one's wasted read balance when the disk is the bottleneck (see {@link RankPrecision}).
     * Measured on a model twice the memory: 0.5 read 7% fewer bytes and decoded 7% faster than prefetching every
     * prediction (docs/DESIGN-NOTES.md). The developer switch {@code moed.prefetch.minPrecision} overrides it.
     */
    public static final float MIN_PRECISION = 0.5f;

    private final ExpertCache cache;
    private final ExpertPredictor predictor;
    private final boolean[] moe;
    private final int lookahead;
    private final int k;
    private final int margin;
    private final float mass;
    private final Candidates candidates;
    /** Experts prefetched for each layer on this token, to cancel the ones routing did not choose. */
    private final int[][] issued;
    private final int[] issuedCount;
    private final int[] chosen;
    private final float minPrecision;
    private final RankPrecision precision;
    /** Per target layer and distance: what the current step's first token predicted, by rank, to score after routing. */
    private final int[][][] predicted;
    private final int[][] predictedCount;
    /** The current step has several rows (a prompt chunk): its routing is a union, no test of one token's prediction. */
    private boolean severalRows;
    private PredictionListener listener;

    /** Told every prediction the planner acts on: for profiling (predicted set vs what routing then chose). */
    @FunctionalInterface
    public interface PredictionListener {
        /** Token {@code token} of the current step predicts {@code experts[0..n)} for {@code layer}, {@code distance} layers ahead. */
        void predicted(int token, int layer, int distance, int[] experts, int n);
    }

    public PrefetchPlanner(ExpertCache cache, ExpertPredictor predictor, boolean[] moeLayers, int experts, int k,
                           int lookahead, int margin, float mass, float minPrecision) {
        if (lookahead < 1 || lookahead > 2) {
            throw new IllegalArgumentException("the look-ahead must be 1 or 2 layers, got " + lookahead);
        }
        this.cache = cache;
        this.predictor = predictor;
        this.moe = moeLayers.clone();
        this.lookahead = lookahead;
        this.k = k;
        this.margin = margin;
        this.mass = mass;
        this.candidates = new Candidates(experts);
        this.issued = new int[moeLayers.length][experts];
        this.issuedCount = new int[moeLayers.length];
        this.chosen = new int[experts];
        this.minPrecision = minPrecision;
        this.precision = new RankPrecision(2, experts, 64);
        this.predicted = new int[moeLayers.length][3][experts];
        this.predictedCount = new int[moeLayers.length][3];
    }

    public void listen(PredictionListener listener) {
        this.listener = listener;
    }

    public String predictorName() {
        return predictor.name();
    }

    /** Layer {@code layer} begins; {@code hidden} is the residual stream of the step's token {@code token} entering it. */
    public void beforeLayer(int layer, int token, float[] hidden) {
        if (layer == 0 && moe[0]) {
            severalRows = token > 0;
            plan(0, 0, token, hidden);
        }
    }

    /** Layer {@code layer}'s attention is done; {@code hidden} is the residual stream of the step's token {@code token}. */
    public void afterAttention(int layer, int token, float[] hidden) {
        severalRows = token > 0;
        for (int d = 1; d <= lookahead; d++) {
            int t = layer + d;
            if (t < moe.length && moe[t]) {
                plan(t, d, token, hidden);
            }
        }
    }

    /** Predicts layer t from {@code hidden}, d layers ahead of its routing: protects, prefetches, keeps for scoring. */
    private void plan(int t, int d, int token, float[] hidden) {
        predictor.predict(t, hidden, candidates);
        int n = d <= 1 ? candidates.choose(k, k + margin, mass) : Math.min(k, candidates.size());
        for (int i = 0; i < n; i++) {
            int e = candidates.expert(i);
            chosen[i] = e;
            cache.protect(t, e, d);
            if (precision.precision(d, i) >= minPrecision && cache.prefetch(t, e, d)
                    && issuedCount[t] < issued[t].length) {
                issued[t][issuedCount[t]++] = e;
            }
            if (token == 0) {
                predicted[t][d][i] = e;
            }
        }
        if (token == 0) {
            predictedCount[t][d] = n;
        }
        if (listener != null) {
            listener.predicted(token, t, d, chosen, n);
        }
    }

    /** Layer {@code layer} routed its tokens; {@code counts[e]} tokens chose expert e. */
    public void routed(int layer, int[] counts, int experts) {
        for (int d = 0; d <= lookahead; d++) {
            if (!severalRows) {
                for (int i = 0; i < predictedCount[layer][d]; i++) {
                    precision.record(d, i, counts[predicted[layer][d][i]] > 0);
                }
            }
            predictedCount[layer][d] = 0;
        }
        for (int i = 0; i < issuedCount[layer]; i++) {
            int e = issued[layer][i];
            if (counts[e] == 0) {
                cache.cancel(layer, e);
            }
        }
        issuedCount[layer] = 0;
    }

    /** A routing decision of the current token (for the predictor's priors). */
    public void observe(int layer, int[] chosen, int kk) {
        predictor.observe(layer, chosen, kk);
    }

    /** The current token is finished. */
    public void nextToken() {
        predictor.nextToken();
    }
}
