package moed.predictor;

/**
 * "gate+prior": the look-ahead's probabilities blended with the priors' ({@code priorWeight} of the priors).
 * Where the gate is sure, it decides; where it is torn between experts, the transitions and recency break the tie.
 */
public final class CombinedPredictor implements ExpertPredictor {
    private final GateLookaheadPredictor gate;
    private final PriorPredictor prior;
    private final float priorWeight;
    private final Candidates g;
    private final Candidates p;
    private final float[] score;

    public CombinedPredictor(GateLookaheadPredictor gate, PriorPredictor prior, float priorWeight, int experts) {
        this.gate = gate;
        this.prior = prior;
        this.priorWeight = priorWeight;
        this.g = new Candidates(experts);
        this.p = new Candidates(experts);
        this.score = new float[experts];
    }

    @Override
    public void predict(int targetLayer, float[] hidden, Candidates out) {
        gate.predict(targetLayer, hidden, g);
        prior.predict(targetLayer, hidden, p);
        java.util.Arrays.fill(score, 0f);
        for (int i = 0; i < g.size(); i++) {
            score[g.expert(i)] += (1 - priorWeight) * g.score(i);
        }
        for (int i = 0; i < p.size(); i++) {
            score[p.expert(i)] += priorWeight * p.score(i);
        }
        out.fillSorted(score, g.size());
    }

    @Override
    public void observe(int layer, int[] chosen, int k) {
        prior.observe(layer, chosen, k);
    }

    @Override
    public void nextToken() {
        prior.nextToken();
    }

    @Override
    public String name() {
        return PredictorKind.GATE_PRIOR.toString();
    }
}
