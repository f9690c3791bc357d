package moed.kernels;

/**
 * How one MoE layer turns its router's logits into expert probabilities and picks the top k, as llama.cpp's
 * build_moe_ffn does: a softmax (most models) or a sigmoid per expert (DeepSeek-V3); then, for choosing only, an
 * optional per-expert selection bias (DeepSeek-V3's {@code exp_probs_b}, a load-balancing term that must not weight
 * the outputs) and optional group-limited routing (experts in {@code groups} equal groups, a group scored by the sum
 * of its two best experts, only the best {@code groupsUsed} groups eligible). The chosen experts' weights are their
 * unbiased probabilities. The runtime and the predictor share this so that a prediction ranks experts exactly as the
 * model will.
 */
public record RouterScoring(Gating gating, float[] selectionBias, int groups, int groupsUsed) {
    public enum Gating {
        SOFTMAX,
        SIGMOID
    }

    /** Softmax over all experts, no bias, no groups. */
    public static final RouterScoring SOFTMAX = new RouterScoring(Gating.SOFTMAX, null, 1, 1);

    public RouterScoring {
        if (groups < 1 || groupsUsed < 1 || groupsUsed > groups) {
            throw new IllegalArgumentException("expert groups: " + groupsUsed + " used of " + groups);
        }
    }

    /** Whether the choice differs from ranking the probabilities themselves. */
    private boolean hasSelectionRule() {
        return selectionBias != null || groups > 1;
    }

    /** Logits to probabilities, in place. */
    public void probabilities(float[] logits, int n) {
        if (gating == Gating.SOFTMAX) {
            Ops.softmax(logits, 0, n);
        } else {
            for (int i = 0; i < n; i++) {
                logits[i] = Ops.sigmoid(logits[i]);
            }
        }
    }

    /**
     * The score each expert is chosen by (probability plus selection bias; minus infinity for experts of groups not
     * among the best), into {@code out}. Without a selection rule it is the probability itself.
     */
    public void selectionScores(float[] probs, int n, float[] out) {
        for (int i = 0; i < n; i++) {
            out[i] = probs[i] + (selectionBias != null ? selectionBias[i] : 0f);
        }
        if (groups <= 1) {
            return;
        }
        int per = n / groups;
        // Keep the groupsUsed best groups: repeatedly drop the worst remaining one (groups are few, 8 in DeepSeek-V3).
        long dropped = 0;
        for (int drop = 0; drop < groups - groupsUsed; drop++) {
            int worst = -1;
            float worstScore = Float.POSITIVE_INFINITY;
            for (int g = 0; g < groups; g++) {
                if ((dropped & 1L << g) != 0) {
                    continue;
                }
                float s = topTwoSum(out, g * per, per);
                // Ties: the higher-numbered group goes first, so the lower one stays, as a stable descending sort keeps it.
                if (s <= worstScore) {
                    worstScore = s;
                    worst = g;
                }
            }
            dropped |= 1L << worst;
        }
        for (int g = 0; g < groups; g++) {
            if ((dropped & 1L << g) != 0) {
                java.util.Arrays.fill(out, g * per, (g + 1) * per, Float.NEGATIVE_INFINITY);
            }
        }
    }

    /**
     * What experts are ranked by: the probabilities themselves, or (with a selection rule) their selection scores
     * written into {@code scratch} (n floats).
     */
    public float[] rankingScores(float[] probs, int n, float[] scratch) {
        if (!hasSelectionRule()) {
            return probs;
        }
        selectionScores(probs, n, scratch);
        return scratch;
    }

    /** The k experts with the best selection scores, best first; {@code scratch} holds n floats. */
    public void choose(float[] probs, int n, int k, int[] chosen, float[] scratch) {
        Ops.topK(rankingScores(probs, n, scratch), n, k, chosen);
    }

    private static float topTwoSum(float[] x, int from, int n) {
        float a = Float.NEGATIVE_INFINITY;
        float b = Float.NEGATIVE_INFINITY;
        for (int i = from; i < from + n; i++) {
            if (x[i] > a) {
                b = a;
                a = x[i];
            } else if (x[i] > b) {
                b = x[i];
            }
        }
        return n == 1 ? a : a + b;
    }
}
