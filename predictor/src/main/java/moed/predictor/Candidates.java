package moed.predictor;

/**
 * A scored list of experts for one layer, best first; reused between calls so predicting allocates nothing.
 * Scores are comparable within one list (probabilities for the gate, blended scores for combinations).
 */
public final class Candidates {
    final int[] experts;
    final float[] scores;
    int size;

    public Candidates(int capacity) {
        experts = new int[capacity];
        scores = new float[capacity];
    }

    public int size() {
        return size;
    }

    public int expert(int i) {
        return experts[i];
    }

    public float score(int i) {
        return scores[i];
    }

    /** Fills the list with every expert by score (descending; ties to the lower id). */
    void fillSorted(float[] score, int n) {
        size = 0;
        for (int e = 0; e < n; e++) {
            int i = size++;
            // Insertion sort: n is the expert count (tens to a few hundred), once per layer per token.
            while (i > 0 && (scores[i - 1] < score[e])) {
                experts[i] = experts[i - 1];
                scores[i] = scores[i - 1];
                i--;
            }
            experts[i] = e;
            scores[i] = score[e];
        }
    }

    /** True when expert e is among the first {@code n} candidates. */
    public boolean containsInTop(int e, int n) {
        for (int i = 0; i < Math.min(n, size); i++) {
            if (experts[i] == e) {
                return true;
            }
        }
        return false;
    }

    /**
     * How many candidates to act on: at least {@code min}, then more while the cumulative score is below
     * {@code mass} (when the list holds probabilities), at most {@code max}.
     */
    public int choose(int min, int max, float mass) {
        int n = Math.min(min, size);
        float cum = 0;
        for (int i = 0; i < n; i++) {
            cum += scores[i];
        }
        while (n < Math.min(max, size) && cum < mass) {
            cum += scores[n++];
        }
        return n;
    }
}
