package moed.kernels;

/**
 * A {@link Gemm} whose vector lanes are tokens (groups of {@link #L}): each row's weights are widened once per call
 * and every weight then feeds a whole vector of tokens. Rows are taken in tiles of {@link #ROWS} that share each
 * activation load.
 */
abstract class TokenLaneGemm extends Gemm {
    static final int L = Dot.L;
    /** Rows computed together: each activation vector loaded feeds this many rows. */
    static final int ROWS = 4;
    /** Groups of L tokens; the last one's padding lanes hold zero activations. */
    int groups;

    @Override
    final void layOut(Activation[] xs) {
        this.groups = (count + L - 1) / L;
        layOutLanes(xs);
    }

    /** Lays out the prepared forms of every token's activation, token-minor ([group][..][lane]). */
    abstract void layOutLanes(Activation[] xs);

    /** Per worker thread: the rows of the current tile, widened for the format's inner loop. */
    abstract static class Tile {
        final int[] row = new int[ROWS];
        final float[] result = new float[L];

        /** Grows the buffers for rows of {@code cols} weights. */
        abstract void ensure(int cols);

        /** Widens {@code row[j]} of m into slot j. */
        abstract void widen(WeightMatrix m, int j);
    }

    /** The calling worker thread's tile scratch. */
    abstract Tile tile();

    /** The tile's rows against the tokens of group g, results stored with {@link #store}. */
    abstract void compute(Tile tile, int g);

    /** out[which[t]][r] = W[r] . x[which[t]] for rows from..to-1 and every token of the call. */
    @Override
    public final void run(int from, int to) {
        Tile s = tile();
        s.ensure(cols);
        for (int r = from; r < to; r += ROWS) {
            for (int j = 0; j < ROWS; j++) {
                s.row[j] = Math.min(r + j, to - 1); // a short last tile repeats its last row
                s.widen(m, j);
            }
            for (int g = 0; g < groups; g++) {
                compute(s, g);
            }
        }
    }

    /** One prepared integer form of an activation (its Q8 or Q8_K values). */
    interface Shorts {
        short[] of(Activation a);
    }

    /** One prepared per-block form of an activation (its scales or integer sums). */
    interface Floats {
        float[] of(Activation a);
    }

    /**
     * The first n values of every token's {@code field}, token-minor: [group][i][lane] at (g * n + i) * L + lane,
     * zero in padding lanes. Returns {@code dst}, or a larger array when it was too small.
     */
    final float[] tokenMinor(float[] dst, Activation[] xs, int n, Shorts field) {
        float[] d = dst.length < groups * n * L ? new float[groups * n * L] : dst;
        for (int g = 0; g < groups; g++) {
            for (int lane = 0; lane < L; lane++) {
                Activation a = token(xs, g * L + lane);
                short[] v = a == null ? null : field.of(a);
                for (int i = 0; i < n; i++) {
                    d[(g * n + i) * L + lane] = v == null ? 0 : v[i];
                }
            }
        }
        return d;
    }

    /** As {@link #tokenMinor}, for a float form. */
    final float[] tokenMinorFloats(float[] dst, Activation[] xs, int n, Floats field) {
        float[] d = dst.length < groups * n * L ? new float[groups * n * L] : dst;
        for (int g = 0; g < groups; g++) {
            for (int lane = 0; lane < L; lane++) {
                Activation a = token(xs, g * L + lane);
                float[] v = a == null ? null : field.of(a);
                for (int i = 0; i < n; i++) {
                    d[(g * n + i) * L + lane] = v == null ? 0 : v[i];
                }
            }
        }
        return d;
    }

    /**
     * Writes row {@code row}'s results for the tokens of group g from {@code lanes} (one per token of the group). A
     * short last tile computes its last row again: the same values, stored again. (The caller stores its vector
     * into {@code lanes}: a vector passed to a call that is not inlined is boxed.)
     */
    final void store(int g, int row, float[] lanes) {
        int n = Math.min(L, count - g * L);
        for (int lane = 0; lane < n; lane++) {
            int t = g * L + lane;
            output(t)[row] = lanes[lane];
        }
    }
}
