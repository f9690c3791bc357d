package moed.predictor;

import moed.kernels.RouterScoring;
import moed.kernels.WeightMatrix;

/**
 * What the look-ahead needs of one MoE layer, as plain data: the RMSNorm weights applied before the router, the
 * norm's epsilon, the router matrix (one row per expert), its bias (null for none; gpt-oss has one) and how the
 * layer scores and chooses experts from the logits (softmax or sigmoid, DeepSeek-V3's selection bias and groups).
 * The runtime builds these from the model.
 */
public record RouterWeights(float[] norm, float eps, WeightMatrix router, float[] bias, RouterScoring scoring) {
    public RouterWeights(float[] norm, float eps, WeightMatrix router) {
        this(norm, eps, router, null, RouterScoring.SOFTMAX);
    }

    public int experts() {
        return router.rows();
    }
}
