package moed.kernels;

/**
 * Prefill's mat-mat for the grid formats ({@link UnpackedFormat}): each block of a row is decoded once for every
 * token of the call, where {@link UnpackedFormat#row4} shares a decode between four. The decode is most of a grid
 * format's cost (48 of IQ2_XXS's 57 ns a block on one core), so sharing it among all the prompt's tokens leaves
 * mostly the integer dot per token. Each token's sum runs over the blocks in the per-token kernel's order with the
 * same operations ({@link UnpackedFormat#dot}), so results are bit for bit those of a token alone.
 */
final class UnpackedGemm extends Gemm {
    /** Per thread: a row's sums for each token (grown, never shrunk). */
    private static final ThreadLocal<float[]> SUMS = ThreadLocal.withInitial(() -> new float[0]);
    /** The call's tokens' activations, in call order (grown, never shrunk). */
    private Activation[] tokens = new Activation[0];

    static boolean supports(GgmlType t) {
        return Dot.VECTOR && BlockFormat.find(t) instanceof UnpackedFormat;
    }

    @Override
    void layOut(Activation[] xs) {
        if (tokens.length < count) {
            tokens = new Activation[count];
        }
        for (int t = 0; t < count; t++) {
            tokens[t] = token(xs, t);
        }
    }

    @Override
    public void run(int from, int to) {
        UnpackedFormat f = (UnpackedFormat) m.type().format();
        float[] sums = SUMS.get();
        if (sums.length < count) {
            sums = new float[count];
            SUMS.set(sums);
        }
        for (int r = from; r < to; r++) {
            f.rows(m.data(), r * m.rowBytes(), cols, tokens, count, sums);
            for (int t = 0; t < count; t++) {
                output(t)[r] = sums[t];
            }
        }
    }
}
