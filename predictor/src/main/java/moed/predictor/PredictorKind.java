package moed.predictor;

/**
 * The expert predictors there are, by the names settings and recordings use ({@link #toString()}); the one place
 * that lists them.
 */
public enum PredictorKind {
    /** No prediction: experts load on demand. */
    NONE("none"),
    /** Look-ahead through the next layers' routers ({@link GateLookaheadPredictor}). */
    GATE("gate"),
    /** Transition and recency priors ({@link PriorPredictor}). */
    PRIOR("prior"),
    /** The gate corrected by the priors ({@link CombinedPredictor}). */
    GATE_PRIOR("gate+prior");

    private final String label;

    PredictorKind(String label) {
        this.label = label;
    }

    @Override
    public String toString() {
        return label;
    }
}
