package moed.predictor;

/**
 * Priors that need no hidden state: layer-to-layer transitions (which experts of layer l follow the experts
 * this token chose at layer l-1, counted over everything seen so far) and recency (what the previous token chose
 * at the same layer). Scores are probabilities: the transition distribution and the recency indicator, mixed.
 */
public final class PriorPredictor implements ExpertPredictor {
    private final int layers;
    private final int experts;
    private final long[][] transitions; // [layer][from * experts + to]
    private final int[][] current;      // this token's choice per layer
    private final int[][] previous;     // the previous token's choice per layer
    private final int[] currentK;
    private final int[] previousK;
    private final float[] score;
    private final float recencyWeight;

    public PriorPredictor(int layers, int experts, int maxK, float recencyWeight) {
        this.layers = layers;
        this.experts = experts;
        this.transitions = new long[layers][experts * experts];
        this.current = new int[layers][maxK];
        this.previous = new int[layers][maxK];
        this.currentK = new int[layers];
        this.previousK = new int[layers];
        this.score = new float[experts];
        this.recencyWeight = recencyWeight;
    }

    /** Seeds the transition counts (from persisted statistics). */
    public void seedTransitions(int layer, int from, long[] counts) {
        for (int to = 0; to < experts && to < counts.length; to++) {
            transitions[layer][from * experts + to] += counts[to];
        }
    }

    @Override
    public void predict(int targetLayer, float[] hidden, Candidates out) {
        java.util.Arrays.fill(score, 0f);
        int src = targetLayer - 1;
        if (src >= 0 && currentK[src] > 0) {
            long total = 0;
            long[] t = transitions[src];
            for (int a = 0; a < currentK[src]; a++) {
                int from = current[src][a];
                for (int to = 0; to < experts; to++) {
                    total += t[from * experts + to];
                }
            }
            if (total > 0) {
                for (int a = 0; a < currentK[src]; a++) {
                    int from = current[src][a];
                    for (int to = 0; to < experts; to++) {
                        score[to] += (1 - recencyWeight) * t[from * experts + to] / (float) total;
                    }
                }
            }
        }
        for (int j = 0; j < previousK[targetLayer]; j++) {
            score[previous[targetLayer][j]] += recencyWeight / previousK[targetLayer];
        }
        out.fillSorted(score, experts);
    }

    @Override
    public void observe(int layer, int[] chosen, int k) {
        if (layer > 0 && currentK[layer - 1] > 0) {
            long[] t = transitions[layer - 1];
            for (int a = 0; a < currentK[layer - 1]; a++) {
                for (int j = 0; j < k; j++) {
                    t[current[layer - 1][a] * experts + chosen[j]]++;
                }
            }
        }
        System.arraycopy(chosen, 0, current[layer], 0, k);
        currentK[layer] = k;
    }

    @Override
    public void nextToken() {
        for (int l = 0; l < layers; l++) {
            System.arraycopy(current[l], 0, previous[l], 0, currentK[l]);
            previousK[l] = currentK[l];
            currentK[l] = 0;
        }
    }

    @Override
    public String name() {
        return PredictorKind.PRIOR.toString();
    }
}
