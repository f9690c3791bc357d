package moed.runtime.sampling;

import java.util.SplittableRandom;

/**
 * Picks the next token from logits: repetition penalty (llama.cpp's: divide positive logits, multiply negative
 * ones), then greedy, or temperature with top-k, top-p and min-p filtering and a seeded draw, so a seed
 * reproduces a run. Owns its buffers: one Sampler per sequence; nothing is allocated per token.
 */
public final class Sampler {
    private final SamplerConfig cfg;
    private final SplittableRandom random;
    private final int[] order;
    private final float[] probs;
    // The full sort's buffers (top-k 0), made on its first use so that greedy and top-k samplers go without:
    // keys, the other half of each radix pass, the digits' start positions.
    private int[] keys;
    private int[] spareKeys;
    private int[] spareOrder;
    private int[] digitStart;
    private final int[] history;
    private int historyLength;

    public Sampler(SamplerConfig cfg, int vocab) {
        this.cfg = cfg;
        this.random = new SplittableRandom(cfg.seed());
        this.order = new int[vocab];
        this.probs = new float[vocab];
        this.history = new int[Math.max(cfg.repeatLastN(), 1)];
    }

    /** Remembers a token of the sequence (prompt or generated) for the repetition penalty. */
    public void accept(int token) {
        if (cfg.repeatLastN() == 0) {
            return;
        }
        if (historyLength < history.length) {
            history[historyLength++] = token;
        } else {
            System.arraycopy(history, 1, history, 0, history.length - 1);
            history[history.length - 1] = token;
        }
    }

    /** Chooses a token from the logits (which may be modified). */
    public int sample(float[] logits, int n) {
        if (cfg.repeatPenalty() != 1f) {
            for (int i = 0; i < historyLength; i++) {
                int t = history[i];
                if (t < n) {
                    logits[t] = logits[t] > 0 ? logits[t] / cfg.repeatPenalty() : logits[t] * cfg.repeatPenalty();
                }
            }
        }
        if (cfg.greedy()) {
            int best = 0;
            for (int i = 1; i < n; i++) {
                if (logits[i] > logits[best]) {
                    best = i;
                }
            }
            return best;
        }
        // Candidates sorted by logit, best first; top-k first so the sort is over few when k is set.
        int m = n;
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        if (cfg.topK() > 0 && cfg.topK() < n) {
            partialSort(logits, n, cfg.topK());
            m = cfg.topK();
        } else {
            partialSort(logits, n, n);
        }
        float max = logits[order[0]];
        double sum = 0;
        for (int i = 0; i < m; i++) {
            probs[i] = (float) Math.exp((logits[order[i]] - max) / cfg.temperature());
            sum += probs[i];
        }
        // min-p: drop candidates below minP times the best one's probability.
        if (cfg.minP() > 0) {
            float floor = probs[0] * cfg.minP();
            int keep = 1;
            while (keep < m && probs[keep] >= floor) {
                keep++;
            }
            for (int i = keep; i < m; i++) {
                sum -= probs[i];
            }
            m = keep;
        }
        // top-p: the smallest prefix whose mass reaches topP.
        if (cfg.topP() < 1f) {
            double cum = 0;
            int keep = 0;
            while (keep < m) {
                cum += probs[keep++] / sum;
                if (cum >= cfg.topP()) {
                    break;
                }
            }
            double kept = 0;
            for (int i = 0; i < keep; i++) {
                kept += probs[i];
            }
            sum = kept;
            m = keep;
        }
        double r = random.nextDouble() * sum;
        for (int i = 0; i < m; i++) {
            r -= probs[i];
            if (r <= 0) {
                return order[i];
            }
        }
        return order[m - 1];
    }

    /**
     * Moves the k largest logits' indices to order[0..k), sorted descending: by selection when k is small (top-k),
     * else by {@link #sortDescending}.
     */
    private void partialSort(float[] logits, int n, int k) {
        if (k == n) {
            sortDescending(logits, n);
            return;
        }
        for (int j = 0; j < k; j++) {
            int best = j;
            for (int i = j + 1; i < n; i++) {
                if (logits[order[i]] > logits[order[best]]) {
                    best = i;
                }
            }
            int t = order[j];
            order[j] = order[best];
            order[best] = t;
        }
    }

    /**
     * Sorts all n indices by logit, largest first, equal logits in index order (Float.compare's order, as the
     * stable sort of boxed indices this replaces gave, so a seed draws the same tokens): a stable radix sort of
     * 32-bit keys in two passes of 16 bits, over buffers allocated once. Linear, and no boxing per token.
     */
    private void sortDescending(float[] logits, int n) {
        if (keys == null) {
            keys = new int[order.length];
            spareKeys = new int[order.length];
            spareOrder = new int[order.length];
            digitStart = new int[(1 << 16) + 1];
        }
        for (int i = 0; i < n; i++) {
            int bits = Float.floatToIntBits(logits[i]);
            int ascending = bits ^ ((bits >> 31) & 0x7FFFFFFF); // signed ints in Float.compare's order
            keys[i] = ~ascending ^ Integer.MIN_VALUE;           // reversed, then as unsigned digits
            order[i] = i;
        }
        radixPass(keys, order, spareKeys, spareOrder, n, 0);
        radixPass(spareKeys, spareOrder, keys, order, n, 16);
    }

    /** One stable counting-sort pass on the 16-bit digit at {@code shift}, from (keys, ids) into (toKeys, toIds). */
    private void radixPass(int[] from, int[] ids, int[] toKeys, int[] toIds, int n, int shift) {
        java.util.Arrays.fill(digitStart, 0);
        for (int i = 0; i < n; i++) {
            digitStart[((from[i] >>> shift) & 0xFFFF) + 1]++;
        }
        for (int d = 1; d < digitStart.length; d++) {
            digitStart[d] += digitStart[d - 1];
        }
        for (int i = 0; i < n; i++) {
            int at = digitStart[(from[i] >>> shift) & 0xFFFF]++;
            toKeys[at] = from[i];
            toIds[at] = ids[i];
        }
    }
}
