package moed.predictor;

import moed.kernels.Activation;
import moed.kernels.Dot;
import moed.kernels.Ops;

/**
 * The look-ahead: applies the target layer's own {@code ffn_norm} and router to an earlier residual stream and
 * takes the softmax probabilities as the prediction. It works because the residual stream changes little from
 * one layer to the next, so the next layer's router "sees" nearly what it will see. Costs one E x d mat-vec.
 * Experts are ranked by the layer's own selection rule (softmax or sigmoid, plus selection bias and groups).
 */
public final class GateLookaheadPredictor implements ExpertPredictor {
    private final RouterWeights[] layers;
    private final float[] normed;
    private final float[] probs;
    private final float[] scores;
    private final Activation act;

    public GateLookaheadPredictor(RouterWeights[] layers, int dim) {
        this.layers = layers.clone();
        int experts = 0;
        for (RouterWeights r : layers) {
            if (r != null) {
                experts = Math.max(experts, r.experts());
            }
        }
        this.normed = new float[dim];
        this.probs = new float[experts];
        this.scores = new float[experts];
        this.act = new Activation(dim);
    }

    @Override
    public void predict(int targetLayer, float[] hidden, Candidates out) {
        RouterWeights r = layers[targetLayer];
        int dim = normed.length;
        Ops.rmsNorm(normed, 0, hidden, 0, r.norm(), dim, r.eps());
        act.set(normed, 0, dim);
        act.prepareFor(r.router().type());
        int e = r.experts();
        for (int i = 0; i < e; i++) {
            probs[i] = Dot.row(r.router(), i, act) + (r.bias() != null ? r.bias()[i] : 0f);
        }
        r.scoring().probabilities(probs, e);
        out.fillSorted(r.scoring().rankingScores(probs, e, scores), e);
    }

    @Override
    public String name() {
        return PredictorKind.GATE.toString();
    }
}
