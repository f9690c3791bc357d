package moed.kernels;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Prefill's mat-mat for Q8_0 and Q4_0 at 512 bits: the per-token kernel's eight lanes ({@link Block32Dots}), for two
 * rows at once, fill one 16-lane vector, and tokens are taken four at a time with each weight vector loaded once for
 * the four. For every (row, token) the result is that kernel's, bit for bit.
 *
 * <p>Why: {@link Block32Gemm}'s lanes are tokens, but a prompt's tokens are spread over the experts (64 tokens over
 * 32 experts, 4 each, give 8 per expert on average), so at 16 lanes most of an expert's vector held padding and the
 * expert GEMMs, three quarters of a MoE prompt's FLOPs, ran at half speed. Here the lanes are rows, so any token
 * count from 4 up fills them.
 *
 * <p>Why it is exact: the per-token kernel sums each block's products into lane i (weights 2i, 2i+1, 16+2i, 17+2i,
 * see {@link Int16Dot#dot32}), converts the lane to float, adds it times the block's scale (weight scale times
 * activation scale) into accumulator i with one FMA, and at the end adds the eight accumulators in lane order.
 * Here a lane's four products are summed with float FMAs over weights and activation integers held as floats: every
 * partial sum is an integer below 2^24, so exact, equal to the integer lane. The scale is the same float product and
 * the FMA the same, lane for lane, and the final sum is taken in the same order.
 *
 * <p>Layout: each row pair is widened once per call, a chunk of blocks at a time, into a panel of floats
 * ({@link #widenPair}: per block four vectors, lane 8p + i holding row p's weight for lane i and step s, and the two
 * rows' weight scales); the activations once per call into the same lane order, duplicated for the two rows
 * ({@link #layOut}). All arrays are block-major so that the inner loop's loads are constant offsets from three bases
 * (C2 then checks bounds once per base, not per load).
 */
final class Block32PairGemm extends Gemm {
    private static final VectorSpecies<Float> F = Dot.F;
    private static final int VL = F.length();
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_MAX.withShape(F.vectorShape());
    private static final VectorSpecies<Short> S16 = ShortVector.SPECIES_256;
    /** Tokens per tile: the kernel's eight accumulators, ten weight vectors and four activations fill the registers. */
    private static final int NT = 4;
    /** Rows widened together: a chunk of their panel (40 KiB) stays in cache while every token tile reads it. */
    private static final int PANEL = 32;
    /**
     * Blocks per pass, widened just before it: the panel's chunk and a token tile's activations for it (8 KiB) stay
     * in cache across the row tiles and token tiles, whatever the row length (widening whole rows first made a
     * 16384-column panel 2.6 MB, streamed from memory).
     */
    private static final int CHUNK = 8;
    /** Floats per (pair, block) in the panel: four weight vectors and the scale vector. */
    private static final int PB = 5 * VL;
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);
    /** Two-source indexes: lane 8p + i takes row p's weight 2i (EVEN) or 2i + 1 (ODD) of a 16-weight half. */
    private static final int[] EVEN = new int[VL];
    private static final int[] ODD = new int[VL];
    /** One-source indexes: the same, from one activation half, for both rows. */
    private static final int[] EVEN_DUP = new int[VL];
    private static final int[] ODD_DUP = new int[VL];
    /** Lanes 8-15: the pair's second row. */
    private static final VectorMask<Float> SECOND_ROW = VectorMask.fromLong(F, 0xFF00L);
    static {
        for (int l = 0; l < VL; l++) {
            int p = l / 8;
            int i = l % 8;
            EVEN[l] = p * VL + 2 * i;
            ODD[l] = p * VL + 2 * i + 1;
            EVEN_DUP[l] = 2 * i;
            ODD_DUP[l] = 2 * i + 1;
        }
    }

    /** Activation integers as floats, [block][token][step][VL]; padding tokens are zero. */
    private float[] at = new float[0];
    /** Activation block scales, [block][token]. */
    private float[] da = new float[0];
    /** The call's tokens rounded up to whole tiles. */
    private int tokensPadded;

    /** True where this GEMM runs: Q8_0 and Q4_0 when the vectors hold 16 floats (two rows of eight lanes). */
    static boolean supports(GgmlType t) {
        return Dot.VECTOR && VL == 16 && Block32Rows.reads(t);
    }

    @Override
    void layOut(Activation[] xs) {
        int nb = cols / 32;
        tokensPadded = (count + NT - 1) / NT * NT;
        if (at.length < tokensPadded * nb * 4 * VL) {
            at = new float[tokensPadded * nb * 4 * VL];
            da = new float[tokensPadded * nb];
        }
        VectorShuffle<Float> evens = VectorShuffle.fromArray(F, EVEN_DUP, 0);
        VectorShuffle<Float> odds = VectorShuffle.fromArray(F, ODD_DUP, 0);
        for (int t = 0; t < tokensPadded; t++) {
            Activation a = token(xs, t);
            if (a == null) {
                for (int b = 0; b < nb; b++) {
                    java.util.Arrays.fill(at, (b * tokensPadded + t) * 4 * VL, (b * tokensPadded + t + 1) * 4 * VL, 0f);
                    da[b * tokensPadded + t] = 0;
                }
                continue;
            }
            short[] q = a.q8s;
            for (int b = 0; b < nb; b++) {
                da[b * tokensPadded + t] = a.q8Scale[b];
                int base = (b * tokensPadded + t) * 4 * VL;
                FloatVector lo = (FloatVector) ShortVector.fromArray(S16, q, b * 32).convertShape(VectorOperators.S2F, F, 0);
                FloatVector hi = (FloatVector) ShortVector.fromArray(S16, q, b * 32 + 16).convertShape(VectorOperators.S2F, F, 0);
                lo.rearrange(evens).intoArray(at, base);
                lo.rearrange(odds).intoArray(at, base + VL);
                hi.rearrange(evens).intoArray(at, base + 2 * VL);
                hi.rearrange(odds).intoArray(at, base + 3 * VL);
            }
        }
    }

    /** out[t][r] for rows from..to-1: panels of rows widened, then row tiles against token tiles, a chunk of blocks at a time. */
    @Override
    public void run(int from, int to) {
        Scratch s = SCRATCH.get();
        int nb = cols / 32;
        s.ensure(nb, tokensPadded);
        for (int r0 = from; r0 < to; r0 += PANEL) {
            int rows = Math.min(PANEL, to - r0);
            int pairs = (rows + 3) / 4 * 2; // whole row tiles of two pairs; rows past the range repeat the last one
            for (int b0 = 0; b0 < nb; b0 += CHUNK) {
                int b1 = Math.min(nb, b0 + CHUNK);
                for (int q = 0; q < pairs; q++) {
                    widenPair(s, Math.min(r0 + 2 * q, to - 1), Math.min(r0 + 2 * q + 1, to - 1), q * PB, pairs * PB, b0, b1);
                }
                for (int t0 = 0; t0 < tokensPadded; t0 += NT) {
                    for (int q = 0; q < pairs; q += 2) {
                        kernel(s, q, pairs, t0, b0, b1, b0 == 0);
                    }
                }
            }
            for (int r = 0; r < rows; r++) { // the per-token kernel's final sum: lanes 0-7 in order, from 0
                int lanes = r / 2 * tokensPadded * VL + r % 2 * 8;
                for (int t = 0; t < count; t++) {
                    int o = lanes + t * VL;
                    float sum = 0;
                    for (int i = 0; i < 8; i++) {
                        sum += s.acc[o + i];
                    }
                    output(t)[r0 + r] = sum;
                }
            }
        }
    }

    /** Blocks b0..b1-1 of rows ra, rb widened into the pair layout at w[base..], block b at base + (b - b0) * stride. */
    private void widenPair(Scratch sc, int ra, int rb, int base, int stride, int b0, int b1) {
        boolean q8 = m.type() == GgmlType.Q8_0;
        int bb = Block32Rows.blockBytes(m.type());
        byte[] x = sc.rowA;
        byte[] y = sc.rowB;
        Block32Rows.copy(m, ra, b0, b1, x);
        Block32Rows.copy(m, rb, b0, b1, y);
        float[] w = sc.w;
        IntVector even = IntVector.fromArray(I, EVEN, 0);
        IntVector odd = IntVector.fromArray(I, ODD, 0);
        for (int b = 0; b < b1 - b0; b++) {
            int pa = b * bb;
            IntVector alo = widen(Block32Rows.weights(x, pa, q8, false));
            IntVector ahi = widen(Block32Rows.weights(x, pa, q8, true));
            IntVector blo = widen(Block32Rows.weights(y, pa, q8, false));
            IntVector bhi = widen(Block32Rows.weights(y, pa, q8, true));
            int o = base + b * stride;
            even.selectFrom(alo, blo).reinterpretAsFloats().intoArray(w, o);
            odd.selectFrom(alo, blo).reinterpretAsFloats().intoArray(w, o + VL);
            even.selectFrom(ahi, bhi).reinterpretAsFloats().intoArray(w, o + 2 * VL);
            odd.selectFrom(ahi, bhi).reinterpretAsFloats().intoArray(w, o + 3 * VL);
            FloatVector.broadcast(F, Block32Rows.scale(x, pa)).blend(Block32Rows.scale(y, pa), SECOND_ROW).intoArray(w, o + 4 * VL);
        }
    }

    /** 16 signed bytes as floats, carried as the bits of an int vector (so that selectFrom takes int indexes). */
    private static IntVector widen(ByteVector v) {
        return ((FloatVector) v.convertShape(VectorOperators.B2F, F, 0)).reinterpretAsInts();
    }

    /**
     * Pairs q and q+1 (four rows) against tokens t0..t0+3 over blocks b0..b1-1, accumulators in and out of the scratch.
     * Written out for the four tokens: C2 keeps the eight accumulators, ten weight vectors and four activation
     * vectors in the 32 registers, and constant offsets from three bases share their bounds checks.
     */
    private void kernel(Scratch s, int q, int pairs, int t0, int b0, int b1, boolean first) {
        float[] w = s.w;
        float[] a = at;
        float[] d = da;
        float[] acc = s.acc;
        int tp = tokensPadded;
        int c0 = (q * tp + t0) * VL;
        int c1 = ((q + 1) * tp + t0) * VL;
        FloatVector z = FloatVector.zero(F);
        FloatVector a00 = first ? z : FloatVector.fromArray(F, acc, c0 + 0 * VL);
        FloatVector a01 = first ? z : FloatVector.fromArray(F, acc, c0 + 1 * VL);
        FloatVector a02 = first ? z : FloatVector.fromArray(F, acc, c0 + 2 * VL);
        FloatVector a03 = first ? z : FloatVector.fromArray(F, acc, c0 + 3 * VL);
        FloatVector a10 = first ? z : FloatVector.fromArray(F, acc, c1 + 0 * VL);
        FloatVector a11 = first ? z : FloatVector.fromArray(F, acc, c1 + 1 * VL);
        FloatVector a12 = first ? z : FloatVector.fromArray(F, acc, c1 + 2 * VL);
        FloatVector a13 = first ? z : FloatVector.fromArray(F, acc, c1 + 3 * VL);
        for (int b = b0; b < b1; b++) {
            int w0 = ((b - b0) * pairs + q) * PB;
            int w1 = w0 + PB;
            FloatVector p0 = FloatVector.fromArray(F, w, w0 + 0 * VL);
            FloatVector p1 = FloatVector.fromArray(F, w, w0 + 1 * VL);
            FloatVector p2 = FloatVector.fromArray(F, w, w0 + 2 * VL);
            FloatVector p3 = FloatVector.fromArray(F, w, w0 + 3 * VL);
            FloatVector pd = FloatVector.fromArray(F, w, w0 + 4 * VL);
            FloatVector r0 = FloatVector.fromArray(F, w, w1 + 0 * VL);
            FloatVector r1 = FloatVector.fromArray(F, w, w1 + 1 * VL);
            FloatVector r2 = FloatVector.fromArray(F, w, w1 + 2 * VL);
            FloatVector r3 = FloatVector.fromArray(F, w, w1 + 3 * VL);
            FloatVector rd = FloatVector.fromArray(F, w, w1 + 4 * VL);
            int dx = b * tp + t0;
            int x = dx * 4 * VL;
            FloatVector x0 = FloatVector.fromArray(F, a, x + 0 * VL);
            FloatVector x1 = FloatVector.fromArray(F, a, x + 1 * VL);
            FloatVector x2 = FloatVector.fromArray(F, a, x + 2 * VL);
            FloatVector x3 = FloatVector.fromArray(F, a, x + 3 * VL);
            float dt = d[dx + 0];
            a00 = x3.fma(p3, x2.fma(p2, x1.fma(p1, x0.mul(p0)))).fma(pd.mul(dt), a00);
            a10 = x3.fma(r3, x2.fma(r2, x1.fma(r1, x0.mul(r0)))).fma(rd.mul(dt), a10);
            x0 = FloatVector.fromArray(F, a, x + 4 * VL);
            x1 = FloatVector.fromArray(F, a, x + 5 * VL);
            x2 = FloatVector.fromArray(F, a, x + 6 * VL);
            x3 = FloatVector.fromArray(F, a, x + 7 * VL);
            dt = d[dx + 1];
            a01 = x3.fma(p3, x2.fma(p2, x1.fma(p1, x0.mul(p0)))).fma(pd.mul(dt), a01);
            a11 = x3.fma(r3, x2.fma(r2, x1.fma(r1, x0.mul(r0)))).fma(rd.mul(dt), a11);
            x0 = FloatVector.fromArray(F, a, x + 8 * VL);
            x1 = FloatVector.fromArray(F, a, x + 9 * VL);
            x2 = FloatVector.fromArray(F, a, x + 10 * VL);
            x3 = FloatVector.fromArray(F, a, x + 11 * VL);
            dt = d[dx + 2];
            a02 = x3.fma(p3, x2.fma(p2, x1.fma(p1, x0.mul(p0)))).fma(pd.mul(dt), a02);
            a12 = x3.fma(r3, x2.fma(r2, x1.fma(r1, x0.mul(r0)))).fma(rd.mul(dt), a12);
            x0 = FloatVector.fromArray(F, a, x + 12 * VL);
            x1 = FloatVector.fromArray(F, a, x + 13 * VL);
            x2 = FloatVector.fromArray(F, a, x + 14 * VL);
            x3 = FloatVector.fromArray(F, a, x + 15 * VL);
            dt = d[dx + 3];
            a03 = x3.fma(p3, x2.fma(p2, x1.fma(p1, x0.mul(p0)))).fma(pd.mul(dt), a03);
            a13 = x3.fma(r3, x2.fma(r2, x1.fma(r1, x0.mul(r0)))).fma(rd.mul(dt), a13);
        }
        a00.intoArray(acc, c0 + 0 * VL);
        a01.intoArray(acc, c0 + 1 * VL);
        a02.intoArray(acc, c0 + 2 * VL);
        a03.intoArray(acc, c0 + 3 * VL);
        a10.intoArray(acc, c1 + 0 * VL);
        a11.intoArray(acc, c1 + 1 * VL);
        a12.intoArray(acc, c1 + 2 * VL);
        a13.intoArray(acc, c1 + 3 * VL);
    }

    /** Per worker thread: the panel, the accumulators ([pair][token][VL]) and the two rows' bytes being widened. */
    private static final class Scratch {
        float[] w = new float[0];
        float[] acc = new float[0];
        byte[] rowA = new byte[0];
        byte[] rowB = new byte[0];

        void ensure(int nb, int tokens) {
            int pairs = PANEL / 2;
            if (w.length < pairs * CHUNK * PB) {
                w = new float[pairs * CHUNK * PB];
                rowA = new byte[CHUNK * Block32Rows.MAX_BLOCK_BYTES];
                rowB = new byte[CHUNK * Block32Rows.MAX_BLOCK_BYTES];
            }
            if (acc.length < pairs * tokens * VL) {
                acc = new float[pairs * tokens * VL];
            }
        }
    }
}
