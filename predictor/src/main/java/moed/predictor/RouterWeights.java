package moed.predictor;

import moed.kernels.WeightMatrix;

/**
 * What the look-ahead needs of one MoE layer, as plain data: the RMSNorm weights applied before the router, the
 * norm's epsilon, and the router matrix (one row per expert). The runtime builds these from the model.
 */
public record RouterWeights(float[] norm, float eps, WeightMatrix router) {
    public int experts() {
        return router.rows();
    }
}
