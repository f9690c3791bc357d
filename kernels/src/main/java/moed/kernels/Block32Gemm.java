package moed.kernels;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Prefill's mat-mat for Q8_0 and Q4_0 weights against Q8 activations: a register-blocked GEMM whose vector lanes are
 * tokens, giving for every (row, token) exactly the result of {@link Block32Dots}' single-token kernel, bit for bit.
 *
 * <p>Why it is exact: the single-token kernel sums each block's integer products into eight 32-bit lanes (lane i:
 * weights 2i, 2i+1, 16+2i and 17+2i, see {@link Int16Dot#dot32}), multiplies lane i by the block's scale into
 * float accumulator i, and adds the eight accumulators in lane order at the end. Here the weights and the
 * activation integers are held as floats; a sum of four products of integers below 128 is an integer far below
 * 2^24, so computing it with float FMAs is exact in any order. An accumulator per row and lane of the single
 * kernel, each a vector over tokens, then repeats the single kernel's float steps lane for lane. So the
 * tokens of a prompt and a decode step get the same logits however they are batched.
 *
 * <p>Why it is fast: a row's weights are widened to floats once per call and every weight then feeds a whole vector
 * of tokens with one FMA (an outer product), instead of being widened, multiplied and paired once per token. Four
 * rows share each activation load. One instance per {@link MatMat}.
 */
final class Block32Gemm extends TokenLaneGemm {
    private static final VectorSpecies<Float> F = Dot.F;
    /** Blocks per pass over the eight lanes: 16 blocks of activations are 32 KiB at 16 lanes, so they stay in L1. */
    private static final int CHUNK = 16;
    /** Per worker thread: the tile's rows widened, their block scales, and the lane accumulators. */
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** Activation integers, [group][k][lane]: lane = token within a group of L tokens; padding lanes are zero. */
    private float[] at = new float[0];
    /** Activation block scales, [group][block][lane]. */
    private float[] sd = new float[0];

    /** True for the weight types this GEMM computes (others take the per-token kernels). */
    static boolean supports(GgmlType t) {
        return Dot.VECTOR && Block32Rows.reads(t);
    }

    /** The Q8 forms: integers as floats, [group][k][lane], and block scales, [group][block][lane]. */
    @Override
    void layOutLanes(Activation[] xs) {
        at = tokenMinor(at, xs, cols, a -> a.q8s);
        sd = tokenMinorFloats(sd, xs, cols / 32, a -> a.q8Scale);
    }

    @Override
    Tile tile() {
        return SCRATCH.get();
    }

    /** One row's weights as float integers (natural order) and its block scales; {@code bytes} holds the row's copy. */
    private static void widen(WeightMatrix m, int row, float[] w, float[] d, byte[] bytes) {
        int nb = m.cols() / 32;
        boolean q8 = m.type() == GgmlType.Q8_0;
        int bb = Block32Rows.blockBytes(m.type());
        Block32Rows.copy(m, row, 0, nb, bytes);
        for (int b = 0; b < nb; b++) {
            int o = b * bb;
            d[b] = Block32Rows.scale(bytes, o);
            for (int half = 0; half < 2; half++) {
                ByteVector v = Block32Rows.weights(bytes, o, q8, half == 1);
                for (int part = 0; part < 16 / L; part++) {
                    ((FloatVector) v.convertShape(VectorOperators.B2F, F, part)).intoArray(w, b * 32 + 16 * half + part * L);
                }
            }
        }
    }

    /**
     * ROWS rows against one group of L tokens. The single kernel's eight lanes are taken one at a time (lane i's
     * accumulator over the blocks, added to the result in lane order at the end), so a row needs one live
     * accumulator, not eight, and the loop stays small enough for C2 to inline every vector operation in it. The
     * blocks are taken CHUNK at a time so that the activations they read stay in L1 across the eight lanes.
     */
    @Override
    void compute(Tile tile, int g) {
        Scratch s = (Scratch) tile;
        float[] a = at;
        float[] w0 = s.w[0];
        float[] w1 = s.w[1];
        float[] w2 = s.w[2];
        float[] w3 = s.w[3];
        float[] sc = s.sc;
        float[] acc = s.acc;
        int nb = cols / 32;
        int atBase = g * cols * L;
        int sdBase = g * nb * L;
        for (int b = 0; b < nb; b++) { // each (row, token)'s block scale: weight scale times activation scale
            FloatVector ad = FloatVector.fromArray(F, sd, sdBase + b * L);
            for (int j = 0; j < ROWS; j++) {
                ad.mul(s.d[j][b]).intoArray(sc, (b * ROWS + j) * L);
            }
        }
        java.util.Arrays.fill(acc, 0, 8 * ROWS * L, 0f);
        for (int b0 = 0; b0 < nb; b0 += CHUNK) {
            int b1 = Math.min(nb, b0 + CHUNK);
            for (int i = 0; i < 8; i++) {
                int ai = i * ROWS * L;
                FloatVector c0 = FloatVector.fromArray(F, acc, ai);
                FloatVector c1 = FloatVector.fromArray(F, acc, ai + L);
                FloatVector c2 = FloatVector.fromArray(F, acc, ai + 2 * L);
                FloatVector c3 = FloatVector.fromArray(F, acc, ai + 3 * L);
                for (int b = b0; b < b1; b++) {
                    // Lane i of block b: weights k, k+1, k+16, k+17 times the activations, an exact integer sum,
                    // then times the block scale into the lane's accumulator.
                    int k = b * 32 + 2 * i;
                    int ao = atBase + k * L;
                    int so = b * ROWS * L;
                    FloatVector x0 = FloatVector.fromArray(F, a, ao);
                    FloatVector x1 = FloatVector.fromArray(F, a, ao + L);
                    FloatVector x2 = FloatVector.fromArray(F, a, ao + 16 * L);
                    FloatVector x3 = FloatVector.fromArray(F, a, ao + 17 * L);
                    c0 = x3.fma(FloatVector.broadcast(F, w0[k + 17]), x2.fma(FloatVector.broadcast(F, w0[k + 16]),
                            x1.fma(FloatVector.broadcast(F, w0[k + 1]), x0.mul(w0[k]))))
                            .fma(FloatVector.fromArray(F, sc, so), c0);
                    c1 = x3.fma(FloatVector.broadcast(F, w1[k + 17]), x2.fma(FloatVector.broadcast(F, w1[k + 16]),
                            x1.fma(FloatVector.broadcast(F, w1[k + 1]), x0.mul(w1[k]))))
                            .fma(FloatVector.fromArray(F, sc, so + L), c1);
                    c2 = x3.fma(FloatVector.broadcast(F, w2[k + 17]), x2.fma(FloatVector.broadcast(F, w2[k + 16]),
                            x1.fma(FloatVector.broadcast(F, w2[k + 1]), x0.mul(w2[k]))))
                            .fma(FloatVector.fromArray(F, sc, so + 2 * L), c2);
                    c3 = x3.fma(FloatVector.broadcast(F, w3[k + 17]), x2.fma(FloatVector.broadcast(F, w3[k + 16]),
                            x1.fma(FloatVector.broadcast(F, w3[k + 1]), x0.mul(w3[k]))))
                            .fma(FloatVector.fromArray(F, sc, so + 3 * L), c3);
                }
                c0.intoArray(acc, ai);
                c1.intoArray(acc, ai + L);
                c2.intoArray(acc, ai + 2 * L);
                c3.intoArray(acc, ai + 3 * L);
            }
        }
        for (int j = 0; j < ROWS; j++) {
            FloatVector t = FloatVector.zero(F); // the single kernel's final lane-order sum (Dot.sum8 starts from 0)
            for (int i = 0; i < 8; i++) {
                t = t.add(FloatVector.fromArray(F, acc, (i * ROWS + j) * L));
            }
            t.intoArray(s.result, 0);
            store(g, s.row[j], s.result);
        }
    }

    private static final class Scratch extends Tile {
        float[][] w = new float[ROWS][0];
        float[][] d = new float[ROWS][0];
        float[] sc = new float[0];
        final float[] acc = new float[8 * ROWS * L];
        byte[] bytes = new byte[0];

        @Override
        void widen(WeightMatrix m, int j) {
            Block32Gemm.widen(m, row[j], w[j], d[j], bytes);
        }

        @Override
        void ensure(int cols) {
            if (w[0].length < cols) {
                for (int j = 0; j < ROWS; j++) {
                    w[j] = new float[cols];
                    d[j] = new float[cols / 32];
                }
                sc = new float[cols / 32 * ROWS * L];
                bytes = new byte[cols / 32 * Block32Rows.MAX_BLOCK_BYTES];
            }
        }
    }
}
