package moed.predictor;

import moed.kernels.WeightMatrix;

/**
 * What the look-ahead needs of one MoE layer, as plain data: the RMSNorm weights applied before the router, the
 * norm's epsilon, the router matrix (one row per expert) and its bias (null for none; gpt-oss has one). The runtime
 * builds these from the model.
 */
public record RouterWeights(float[] norm, float eps, WeightMatrix router, float[] bias) {
    public RouterWeights(float[] norm, float eps, WeightMatrix router) {
        this(norm, eps, router, null);
    }

    public int experts() {
        return router.rows();
    }
}
