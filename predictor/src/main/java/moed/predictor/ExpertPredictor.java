package moed.predictor;

/**
 * Predicts which experts a layer will choose for the current token, before the forward pass gets there.
 * Implementations are small and testable on recorded traces: they see the residual stream at the moment of
 * prediction and what earlier layers of this token (and earlier tokens) chose. Not thread safe: one per
 * compute thread.
 */
public interface ExpertPredictor {
    /**
     * Scores the experts of {@code targetLayer} from the residual stream {@code hidden} observed at an earlier
     * point of this token's forward pass.
     */
    void predict(int targetLayer, float[] hidden, Candidates out);

    /** Told what a layer actually chose for the current token (priors learn from it). */
    default void observe(int layer, int[] chosen, int k) {
    }

    /** The current token is done; the next begins. */
    default void nextToken() {
    }

    String name();
}
