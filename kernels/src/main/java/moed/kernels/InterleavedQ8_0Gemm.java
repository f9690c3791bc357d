package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Prefill's mat-mat over Q8_0 rows in {@link Interleaved}'s layout (512 bits), rows as vector lanes: a chunk of blocks
 * of {@link #R} rows is widened once into a float panel, and every token then reads it with FMAs only. For every
 * (row, token) the result is {@link InterleavedQ8_0}'s (so {@link Block32Dots#q8_0}'s), bit for bit.
 *
 * <p>Why it is exact: the per-token kernel's lane i sums the four products of weights 2i, 2i + 1, 16 + 2i, 17 + 2i, a
 * sum of integers far below 2^24 that float FMAs give exactly in any order; lane i's accumulator then takes that sum
 * times the block's scale (the row's d times the token's) with one FMA per block, in block order, and the eight
 * accumulators are added in {@link Dot#sum8}'s order at the end. Here the same steps happen lane for lane.
 *
 * <p>Why it is fast: the group kernel spends about ten integer operations on four weights of sixteen rows per token;
 * here those weights are widened once per call (ten operations) and then cost each token four FMAs
 * and the scale's. The loops go lane by lane (lane i's four weights for two row vectors and four tokens: eight
 * accumulators, eight panel vectors), so that a tile's state fits the registers; the tokens' lane accumulators wait
 * in a scratch between chunks.
 *
 * <p>One instance per {@link MatMat}; per worker thread a panel of {@link #CHUNK} blocks (32 KiB) that stays in L1.
 */
final class InterleavedQ8_0Gemm extends Gemm {
    private static final VectorSpecies<Float> F = Dot.F;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_MAX.withShape(F.vectorShape());
    private static final VectorSpecies<Short> H = ShortVector.SPECIES_MAX.withShape(
            VectorShape.forBitSize(F.vectorBitSize() / 2));
    private static final int VL = F.length();
    private static final int GROUP = Interleaved.GROUP;
    /** Rows per tile: two groups, two vectors (each activation broadcast serves both). */
    static final int R = 2 * GROUP;
    /** Bytes of one group's block: sixteen halves, then eight lanes' byte pairs (see {@link Interleaved#position}). */
    private static final int GROUP_BLOCK = GROUP * 34;
    /** Blocks per panel: 8 * 32 weights * 32 rows as floats, 32 KiB. */
    private static final int CHUNK = 8;
    /**
     * Token count from which this GEMM beats the group kernel per token (which reads each group once for all tokens
     * too): the panel's widening is paid per call. Two threads, 2048 x 4096 (GFLOP/s, three runs each, GEMM against
     * group kernel): 8 tokens 52-70 against 58-71, 16 46-72 against 66-67, 24 62-76 against 62-72, 32 69-83 against
     * 63-70, 64 68-88 against 65-66. (7 until the group kernel widened byte pairs in one instruction: 45% faster.)
     */
    static final int MIN_TOKENS = 20;
    /** Tokens per tile. */
    private static final int NT = 4;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** Activation integers as floats, [token][block][lane][4]: lane i's four (2i, 2i + 1, 16 + 2i, 17 + 2i). */
    private float[] at = new float[0];
    /** Activation block scales, [token][block]. */
    private float[] ad = new float[0];
    private int blocks;

    /** True for a matrix this GEMM reads: interleaved Q8_0, one group a vector, whole tiles of rows. */
    static boolean supports(WeightMatrix m) {
        return Dot.VECTOR && m.interleaved() && m.type() == GgmlType.Q8_0 && VL == GROUP && m.rows() % R == 0;
    }

    @Override
    int minTokens(WeightMatrix m) {
        return MIN_TOKENS;
    }

    @Override
    int grain() {
        return R;
    }

    @Override
    void layOut(Activation[] xs) {
        blocks = cols / 32;
        int padded = count + NT - 1;
        if (at.length < padded * cols) {
            at = new float[padded * cols];
            ad = new float[padded * blocks];
        }
        for (int t = 0; t < padded; t++) {
            Activation a = token(xs, t);
            for (int b = 0; b < blocks; b++) {
                int o = t * cols + 32 * b;
                for (int i = 0; i < 8; i++) {
                    int k = 32 * b + 2 * i;
                    at[o + 4 * i] = a == null ? 0 : a.q8s[k];
                    at[o + 4 * i + 1] = a == null ? 0 : a.q8s[k + 1];
                    at[o + 4 * i + 2] = a == null ? 0 : a.q8s[k + 16];
                    at[o + 4 * i + 3] = a == null ? 0 : a.q8s[k + 17];
                }
                ad[t * blocks + b] = a == null ? 0 : a.q8Scale[b];
            }
        }
    }

    @Override
    public void run(int from, int to) {
        Scratch s = SCRATCH.get();
        int padded = count + NT - 1;
        s.ensure(padded);
        for (int r0 = from; r0 < to; r0 += R) {
            java.util.Arrays.fill(s.acc, 0, padded * 8 * R, 0f);
            for (int c0 = 0; c0 < blocks; c0 += CHUNK) {
                int nb = Math.min(CHUNK, blocks - c0);
                widen(s, r0, c0, nb);
                for (int t = 0; t < count; ) {
                    tokenScales(s, t, c0, nb);
                    if (count - t <= 2) {
                        for (int i = 0; i < 8; i++) {
                            tile2(s, t, i, c0, nb);
                        }
                        t += 2;
                    } else {
                        for (int i = 0; i < 8; i++) {
                            tile(s, t, i, c0, nb);
                        }
                        t += NT;
                    }
                }
            }
            for (int t = 0; t < count; t++) {
                float[] o = output(t);
                for (int v = 0; v < R / VL; v++) {
                    // Dot.sum8's order: 0 + lane 0 + lane 1 + ... + lane 7.
                    FloatVector sum = FloatVector.zero(F);
                    for (int i = 0; i < 8; i++) {
                        sum = sum.add(FloatVector.fromArray(F, s.acc, (t * 8 + i) * R + v * VL));
                    }
                    sum.intoArray(o, r0 + v * VL);
                }
            }
        }
    }

    /**
     * Blocks c0..c0+nb-1 of the tile's rows into the panel ([block][lane][four weights][row]), their d into s.d
     * ([block][row]). Methods of their own: C2 compiles each within its node budget.
     */
    private void widen(Scratch s, int r0, int c0, int nb) {
        for (int v = 0; v < R / VL; v++) {
            long groupOff = (r0 + v * GROUP) * m.rowBytes();
            for (int bb = 0; bb < nb; bb++) {
                long run = groupOff + (long) (c0 + bb) * GROUP_BLOCK;
                rowScales(s, m.data(), run, bb * R + v * VL);
                weights(s.panel, m.data(), run, bb * 8 * 4 * R + v * VL);
            }
        }
    }

    /** The d of a block of sixteen rows (Float.float16ToFloat exactly, as InterleavedQ8_0 converts them) into s.d[o..]. */
    private static void rowScales(Scratch s, MemorySegment m, long run, int o) {
        IntVector h = ((IntVector) ShortVector.fromMemorySegment(H, m, run, LE)
                .convertShape(VectorOperators.S2I, I, 0));
        Interleaved.halvesToFloats(h).intoArray(s.d, o);
    }

    /** The weights of a block of sixteen rows into the panel from p[o..]: lane i's four weights, R apart. */
    private static void weights(float[] p, MemorySegment m, long run, int o) {
        for (int i = 0; i < 8; i++) {
            // Row c's byte pairs of lane i: its weights (2i, 16 + 2i), then (2i + 1, 17 + 2i), each pair read as a
            // 16-bit lane and widened to an int with its sign (so the high byte's is in place).
            IntVector even = (IntVector) ShortVector.fromMemorySegment(H, m, run + 32 + (long) i * 4 * GROUP, LE)
                    .convertShape(VectorOperators.S2I, I, 0);
            IntVector odd = (IntVector) ShortVector.fromMemorySegment(H, m, run + 32 + (long) i * 4 * GROUP + 2 * GROUP, LE)
                    .convertShape(VectorOperators.S2I, I, 0);
            int w = o + i * 4 * R;
            ((FloatVector) even.lanewise(VectorOperators.LSHL, 24).lanewise(VectorOperators.ASHR, 24)
                    .convert(VectorOperators.I2F, 0)).intoArray(p, w);
            ((FloatVector) odd.lanewise(VectorOperators.LSHL, 24).lanewise(VectorOperators.ASHR, 24)
                    .convert(VectorOperators.I2F, 0)).intoArray(p, w + R);
            ((FloatVector) even.lanewise(VectorOperators.ASHR, 8).convert(VectorOperators.I2F, 0)).intoArray(p, w + 2 * R);
            ((FloatVector) odd.lanewise(VectorOperators.ASHR, 8).convert(VectorOperators.I2F, 0)).intoArray(p, w + 3 * R);
        }
    }

    /**
     * The scales of tokens t..t+NT-1 for the chunk's blocks as the group kernel forms them, the row's d times the
     * token's, into s.scale ([token of the tile][block][row]): per token tile, so that they stay in L1 for the eight
     * lanes (for the whole call's tokens at once they were written to L2 and read back, 17% of a prefill's GEMM time).
     */
    private void tokenScales(Scratch s, int t, int c0, int nb) {
        float[] d = s.d;
        float[] sc = s.scale;
        for (int j = 0; j < NT; j++) {
            for (int bb = 0; bb < nb; bb++) {
                float qd = ad[(t + j) * blocks + c0 + bb];
                int o = (j * CHUNK + bb) * R;
                FloatVector.fromArray(F, d, bb * R).mul(qd).intoArray(sc, o);
                FloatVector.fromArray(F, d, bb * R + VL).mul(qd).intoArray(sc, o + VL);
            }
        }
    }

    /**
     * Lane i of tokens t..t+3 (past the call: zero activations, results not kept) over the panel's nb blocks: their
     * accumulators taken from s.acc and put back.
     */
    private void tile(Scratch s, int t, int i, int c0, int nb) {
        float[] p = s.panel;
        float[] a = at;
        float[] sc = s.scale;
        float[] acc = s.acc;
        int c = cols;
        int k0 = (t * 8 + i) * R;
        int k1 = k0 + 8 * R;
        int k2 = k1 + 8 * R;
        int k3 = k2 + 8 * R;
        FloatVector a00 = FloatVector.fromArray(F, acc, k0), a01 = FloatVector.fromArray(F, acc, k0 + VL);
        FloatVector a10 = FloatVector.fromArray(F, acc, k1), a11 = FloatVector.fromArray(F, acc, k1 + VL);
        FloatVector a20 = FloatVector.fromArray(F, acc, k2), a21 = FloatVector.fromArray(F, acc, k2 + VL);
        FloatVector a30 = FloatVector.fromArray(F, acc, k3), a31 = FloatVector.fromArray(F, acc, k3 + VL);
        for (int bb = 0; bb < nb; bb++) {
            int w = ((bb * 8 + i) * 4) * R;
            FloatVector w00 = FloatVector.fromArray(F, p, w), w01 = FloatVector.fromArray(F, p, w + VL);
            FloatVector w10 = FloatVector.fromArray(F, p, w + R), w11 = FloatVector.fromArray(F, p, w + R + VL);
            FloatVector w20 = FloatVector.fromArray(F, p, w + 2 * R), w21 = FloatVector.fromArray(F, p, w + 2 * R + VL);
            FloatVector w30 = FloatVector.fromArray(F, p, w + 3 * R), w31 = FloatVector.fromArray(F, p, w + 3 * R + VL);
            int x = t * c + 32 * (c0 + bb) + 4 * i;
            int q = bb * R;
            FloatVector x0 = FloatVector.broadcast(F, a[x]), x1 = FloatVector.broadcast(F, a[x + 1]);
            FloatVector x2 = FloatVector.broadcast(F, a[x + 2]), x3 = FloatVector.broadcast(F, a[x + 3]);
            a00 = w30.fma(x3, w20.fma(x2, w10.fma(x1, w00.mul(x0)))).fma(FloatVector.fromArray(F, sc, q), a00);
            a01 = w31.fma(x3, w21.fma(x2, w11.fma(x1, w01.mul(x0)))).fma(FloatVector.fromArray(F, sc, q + VL), a01);
            x += c;
            q += CHUNK * R;
            x0 = FloatVector.broadcast(F, a[x]);
            x1 = FloatVector.broadcast(F, a[x + 1]);
            x2 = FloatVector.broadcast(F, a[x + 2]);
            x3 = FloatVector.broadcast(F, a[x + 3]);
            a10 = w30.fma(x3, w20.fma(x2, w10.fma(x1, w00.mul(x0)))).fma(FloatVector.fromArray(F, sc, q), a10);
            a11 = w31.fma(x3, w21.fma(x2, w11.fma(x1, w01.mul(x0)))).fma(FloatVector.fromArray(F, sc, q + VL), a11);
            x += c;
            q += CHUNK * R;
            x0 = FloatVector.broadcast(F, a[x]);
            x1 = FloatVector.broadcast(F, a[x + 1]);
            x2 = FloatVector.broadcast(F, a[x + 2]);
            x3 = FloatVector.broadcast(F, a[x + 3]);
            a20 = w30.fma(x3, w20.fma(x2, w10.fma(x1, w00.mul(x0)))).fma(FloatVector.fromArray(F, sc, q), a20);
            a21 = w31.fma(x3, w21.fma(x2, w11.fma(x1, w01.mul(x0)))).fma(FloatVector.fromArray(F, sc, q + VL), a21);
            x += c;
            q += CHUNK * R;
            x0 = FloatVector.broadcast(F, a[x]);
            x1 = FloatVector.broadcast(F, a[x + 1]);
            x2 = FloatVector.broadcast(F, a[x + 2]);
            x3 = FloatVector.broadcast(F, a[x + 3]);
            a30 = w30.fma(x3, w20.fma(x2, w10.fma(x1, w00.mul(x0)))).fma(FloatVector.fromArray(F, sc, q), a30);
            a31 = w31.fma(x3, w21.fma(x2, w11.fma(x1, w01.mul(x0)))).fma(FloatVector.fromArray(F, sc, q + VL), a31);
        }
        a00.intoArray(acc, k0);
        a01.intoArray(acc, k0 + VL);
        a10.intoArray(acc, k1);
        a11.intoArray(acc, k1 + VL);
        a20.intoArray(acc, k2);
        a21.intoArray(acc, k2 + VL);
        a30.intoArray(acc, k3);
        a31.intoArray(acc, k3 + VL);
    }

    /**
     * As {@link #tile}, for tokens t and t + 1. Written out, not shared with it: the accumulators must be locals for C2
     * to keep them in registers (an array of vectors, or a helper taking them, boxes them).
     */
    private void tile2(Scratch s, int t, int i, int c0, int nb) {
        float[] p = s.panel;
        float[] a = at;
        float[] sc = s.scale;
        float[] acc = s.acc;
        int c = cols;
        int k0 = (t * 8 + i) * R;
        int k1 = k0 + 8 * R;
        FloatVector a00 = FloatVector.fromArray(F, acc, k0), a01 = FloatVector.fromArray(F, acc, k0 + VL);
        FloatVector a10 = FloatVector.fromArray(F, acc, k1), a11 = FloatVector.fromArray(F, acc, k1 + VL);
        for (int bb = 0; bb < nb; bb++) {
            int w = ((bb * 8 + i) * 4) * R;
            FloatVector w00 = FloatVector.fromArray(F, p, w), w01 = FloatVector.fromArray(F, p, w + VL);
            FloatVector w10 = FloatVector.fromArray(F, p, w + R), w11 = FloatVector.fromArray(F, p, w + R + VL);
            FloatVector w20 = FloatVector.fromArray(F, p, w + 2 * R), w21 = FloatVector.fromArray(F, p, w + 2 * R + VL);
            FloatVector w30 = FloatVector.fromArray(F, p, w + 3 * R), w31 = FloatVector.fromArray(F, p, w + 3 * R + VL);
            int x = t * c + 32 * (c0 + bb) + 4 * i;
            int q = bb * R;
            FloatVector x0 = FloatVector.broadcast(F, a[x]), x1 = FloatVector.broadcast(F, a[x + 1]);
            FloatVector x2 = FloatVector.broadcast(F, a[x + 2]), x3 = FloatVector.broadcast(F, a[x + 3]);
            a00 = w30.fma(x3, w20.fma(x2, w10.fma(x1, w00.mul(x0)))).fma(FloatVector.fromArray(F, sc, q), a00);
            a01 = w31.fma(x3, w21.fma(x2, w11.fma(x1, w01.mul(x0)))).fma(FloatVector.fromArray(F, sc, q + VL), a01);
            x += c;
            q += CHUNK * R;
            x0 = FloatVector.broadcast(F, a[x]);
            x1 = FloatVector.broadcast(F, a[x + 1]);
            x2 = FloatVector.broadcast(F, a[x + 2]);
            x3 = FloatVector.broadcast(F, a[x + 3]);
            a10 = w30.fma(x3, w20.fma(x2, w10.fma(x1, w00.mul(x0)))).fma(FloatVector.fromArray(F, sc, q), a10);
            a11 = w31.fma(x3, w21.fma(x2, w11.fma(x1, w01.mul(x0)))).fma(FloatVector.fromArray(F, sc, q + VL), a11);
        }
        a00.intoArray(acc, k0);
        a01.intoArray(acc, k0 + VL);
        a10.intoArray(acc, k1);
        a11.intoArray(acc, k1 + VL);
    }

    /** Per worker thread. */
    private static final class Scratch {
        /** The panel: [block of the chunk][lane][four weights][row of the tile]. */
        final float[] panel = new float[CHUNK * 32 * R];
        /** The rows' d for the chunk's blocks, [block][row]. */
        final float[] d = new float[CHUNK * R];
        /** Per token of the tile and block of the chunk: the rows' scales, [token][block][row]. */
        final float[] scale = new float[NT * CHUNK * R];
        /** Lane accumulators, [token][lane][row]. */
        float[] acc = new float[0];

        void ensure(int tokens) {
            if (acc.length < tokens * 8 * R) {
                acc = new float[tokens * 8 * R];
            }
        }
    }
}
