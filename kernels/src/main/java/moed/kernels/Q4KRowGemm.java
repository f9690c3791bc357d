package moed.kernels;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Prefill's mat-mat for Q4_K whose vector lanes are rows: a super-block of {@link #R} rows is widened into a panel
 * where vector k holds weight k of every row, and each token's activation integer is broadcast against it, so the
 * inner loop is nothing but FMAs and any number of tokens fills the vectors. For every (row, token) the result is
 * {@link KQuantDots#q4_k}'s, bit for bit.
 *
 * <p>Why: a prompt's tokens are spread over the experts (64 tokens over 32 experts, top 4: 8 each on average), and
 * {@link KQuantGemm}'s token lanes were half padding at 16 lanes. Here a weight is widened once per call and feeds
 * one FMA lane per token, whatever the token count.
 *
 * <p>Why it is exact: the panel holds each weight times its sub-block's scale (at most 15 * 63), so one FMA chain
 * over four sub-blocks gives sum(scale_j * weights_j . activations_j) directly; with activation integers of at most
 * 127 every partial sum is an integer below 4 * 32 * 945 * 127 < 2^24, exact in floats. The two halves of the
 * super-block, converted to integers and added, are the per-token kernel's integer sum; its float steps (the
 * minimums' term, then d * da * sum - dmin * da * mins, then the running total) follow lane for lane.
 *
 * <p>One instance per {@link MatMat}; per worker thread a panel of one super-block (32 KiB at 512 bits) that stays
 * in L1 while every token tile reads it.
 */
final class Q4KRowGemm extends Gemm {
    private static final VectorSpecies<Float> F = Dot.F;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_MAX.withShape(F.vectorShape());
    private static final int VL = F.length();
    /** Rows per tile: two vectors. */
    static final int R = 2 * VL;
    /** A super-block in ints: d and dmin, twelve bytes of scales, 128 of quantized nibbles. */
    private static final int INTS = 144 / 4;
    /** Tokens per tile (for two rows vectors, even and odd weights: sixteen accumulators). */
    private static final int NT = 4;
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** Activation integers as floats, token-major [t][k]; NT - 1 zero tokens at the end pad the last tile. */
    private float[] at = new float[0];
    /** Per token and super-block: the activation scale. */
    private float[] ad = new float[0];
    /** Per token, super-block and sub-block: the activation's integer sum. */
    private float[] as = new float[0];

    static boolean supports(GgmlType t) {
        return Dot.VECTOR && t == GgmlType.Q4_K;
    }

    @Override
    int grain() {
        return R;
    }

    @Override
    void layOut(Activation[] xs) {
        int nsb = cols / 256;
        int padded = count + NT - 1;
        if (at.length < padded * cols) {
            at = new float[padded * cols];
            ad = new float[padded * nsb];
            as = new float[padded * nsb * 8];
        }
        for (int t = 0; t < padded; t++) {
            Activation a = token(xs, t);
            for (int k = 0; k < cols; k++) {
                at[t * cols + k] = a == null ? 0 : a.q8k[k];
            }
            for (int b = 0; b < nsb; b++) {
                ad[t * nsb + b] = a == null ? 0 : a.q8kScale[b];
            }
            for (int j = 0; j < nsb * 8; j++) {
                as[t * nsb * 8 + j] = a == null ? 0 : a.q8kSum32[j];
            }
        }
    }

    @Override
    public void run(int from, int to) {
        Scratch s = SCRATCH.get();
        int nsb = cols / 256;
        s.ensure(count + NT - 1, nsb);
        for (int r0 = from; r0 < to; r0 += R) {
            int rows = Math.min(R, to - r0);
            // The tile's rows are one contiguous span: one copy (each read of a segment is checked; the copy's
            // checks are paid once), zeros for rows past the matrix.
            MemorySegment.copy(m.data(), Bytes.LE_INT, r0 * m.rowBytes(), s.rows, 0, rows * nsb * INTS);
            java.util.Arrays.fill(s.rows, rows * nsb * INTS, R * nsb * INTS, 0);
            java.util.Arrays.fill(s.total, 0, count * R, 0f);
            for (int b = 0; b < nsb; b++) {
                widen(s, b, nsb);
                // Four tokens at a time; one or two left take a two-token tile (an expert's token count is anything:
                // padding to four wasted 1.5 tokens of 8 on average).
                for (int t = 0; t < count; ) {
                    if (count - t <= 2) {
                        tile2(s, t, b, nsb);
                        t += 2;
                    } else {
                        tile(s, t, b, nsb);
                        t += NT;
                    }
                }
            }
            for (int t = 0; t < count; t++) {
                System.arraycopy(s.total, t * R, output(t), r0, rows);
            }
        }
    }

    /** Super-block b of the tile's rows (s.rows) into the panel. */
    private static void widen(Scratch s, int b, int nsb) {
        int[] src = s.rows;
        int[] q = s.q;
        float[] sc = s.scales;
        float[] mn = s.mins;
        for (int c = 0; c < R; c++) {
            // block_q4_K as ints: d and dmin, then the twelve scale bytes, then 32 ints of quantized nibbles; all but
            // d and dmin transposed, [int][row], so that a vector load gives one int of every row (a gather from the
            // rows was no faster).
            int o = (c * nsb + b) * INTS;
            int dd = src[o];
            s.d[c] = Float.float16ToFloat((short) dd);
            s.dmin[c] = Float.float16ToFloat((short) (dd >>> 16));
            for (int i = 1; i < INTS; i++) {
                q[i * R + c] = src[o + i];
            }
        }
        // The eight 6-bit scales and minimums of every row at once (KQuantDots.scalesK4 and minsK4 lane by lane):
        // bytes 0-3 hold scales 0-3 and two high bits of scales 4-7, bytes 4-7 the same for the minimums, bytes 8-11
        // the low four bits of scales 4-7 (low nibbles) and minimums 4-7 (high nibbles).
        for (int v = 0; v < 2; v++) {
            int o = v * VL;
            IntVector b0to3 = IntVector.fromArray(I, q, R + o);
            IntVector b4to7 = IntVector.fromArray(I, q, 2 * R + o);
            IntVector b8to11 = IntVector.fromArray(I, q, 3 * R + o);
            IntVector s03 = b0to3.and(0x3F3F3F3F);
            IntVector s47 = b8to11.and(0x0F0F0F0F).or(b0to3.lanewise(VectorOperators.LSHR, 2).and(0x30303030));
            IntVector m03 = b4to7.and(0x3F3F3F3F);
            IntVector m47 = b8to11.lanewise(VectorOperators.LSHR, 4).and(0x0F0F0F0F)
                    .or(b4to7.lanewise(VectorOperators.LSHR, 2).and(0x30303030));
            ((FloatVector) s03.and(0xFF).convert(VectorOperators.I2F, 0)).intoArray(sc, o);
            ((FloatVector) s03.lanewise(VectorOperators.LSHR, 8).and(0xFF).convert(VectorOperators.I2F, 0)).intoArray(sc, R + o);
            ((FloatVector) s03.lanewise(VectorOperators.LSHR, 16).and(0xFF).convert(VectorOperators.I2F, 0)).intoArray(sc, 2 * R + o);
            ((FloatVector) s03.lanewise(VectorOperators.LSHR, 24).convert(VectorOperators.I2F, 0)).intoArray(sc, 3 * R + o);
            ((FloatVector) s47.and(0xFF).convert(VectorOperators.I2F, 0)).intoArray(sc, 4 * R + o);
            ((FloatVector) s47.lanewise(VectorOperators.LSHR, 8).and(0xFF).convert(VectorOperators.I2F, 0)).intoArray(sc, 5 * R + o);
            ((FloatVector) s47.lanewise(VectorOperators.LSHR, 16).and(0xFF).convert(VectorOperators.I2F, 0)).intoArray(sc, 6 * R + o);
            ((FloatVector) s47.lanewise(VectorOperators.LSHR, 24).convert(VectorOperators.I2F, 0)).intoArray(sc, 7 * R + o);
            ((FloatVector) m03.and(0xFF).convert(VectorOperators.I2F, 0)).intoArray(mn, o);
            ((FloatVector) m03.lanewise(VectorOperators.LSHR, 8).and(0xFF).convert(VectorOperators.I2F, 0)).intoArray(mn, R + o);
            ((FloatVector) m03.lanewise(VectorOperators.LSHR, 16).and(0xFF).convert(VectorOperators.I2F, 0)).intoArray(mn, 2 * R + o);
            ((FloatVector) m03.lanewise(VectorOperators.LSHR, 24).convert(VectorOperators.I2F, 0)).intoArray(mn, 3 * R + o);
            ((FloatVector) m47.and(0xFF).convert(VectorOperators.I2F, 0)).intoArray(mn, 4 * R + o);
            ((FloatVector) m47.lanewise(VectorOperators.LSHR, 8).and(0xFF).convert(VectorOperators.I2F, 0)).intoArray(mn, 5 * R + o);
            ((FloatVector) m47.lanewise(VectorOperators.LSHR, 16).and(0xFF).convert(VectorOperators.I2F, 0)).intoArray(mn, 6 * R + o);
            ((FloatVector) m47.lanewise(VectorOperators.LSHR, 24).convert(VectorOperators.I2F, 0)).intoArray(mn, 7 * R + o);
        }
        // Int i of a row holds quantized bytes 4i..4i+3: chunk j = i / 8 of 32 bytes, byte l of which holds weight
        // 64j + l in its low nibble (sub-block 2j) and 64j + 32 + l in its high one (sub-block 2j + 1).
        float[] p = s.panel;
        int h = 32 * R;
        for (int v = 0; v < 2; v++) {
            for (int i = 0; i < 32; i++) {
                IntVector g = IntVector.fromArray(I, q, (4 + i) * R + v * VL);
                int j = i >> 3;
                FloatVector lo = FloatVector.fromArray(F, sc, 2 * j * R + v * VL);
                FloatVector hi = FloatVector.fromArray(F, sc, (2 * j + 1) * R + v * VL);
                int o = (64 * j + 4 * (i & 7)) * R + v * VL;
                // Byte e of every lane: its low nibble is weight k + e, its high one weight k + 32 + e.
                ((FloatVector) g.and(0xF).convert(VectorOperators.I2F, 0)).mul(lo).intoArray(p, o);
                ((FloatVector) g.lanewise(VectorOperators.LSHR, 4).and(0xF).convert(VectorOperators.I2F, 0)).mul(hi).intoArray(p, o + h);
                ((FloatVector) g.lanewise(VectorOperators.LSHR, 8).and(0xF).convert(VectorOperators.I2F, 0)).mul(lo).intoArray(p, o + R);
                ((FloatVector) g.lanewise(VectorOperators.LSHR, 12).and(0xF).convert(VectorOperators.I2F, 0)).mul(hi).intoArray(p, o + R + h);
                ((FloatVector) g.lanewise(VectorOperators.LSHR, 16).and(0xF).convert(VectorOperators.I2F, 0)).mul(lo).intoArray(p, o + 2 * R);
                ((FloatVector) g.lanewise(VectorOperators.LSHR, 20).and(0xF).convert(VectorOperators.I2F, 0)).mul(hi).intoArray(p, o + 2 * R + h);
                ((FloatVector) g.lanewise(VectorOperators.LSHR, 24).and(0xF).convert(VectorOperators.I2F, 0)).mul(lo).intoArray(p, o + 3 * R);
                ((FloatVector) g.lanewise(VectorOperators.LSHR, 28).convert(VectorOperators.I2F, 0)).mul(hi).intoArray(p, o + 3 * R + h);
            }
        }
    }

    /** Tokens t..t+NT-1 (past the call: zero activations, results not kept) against the panel of super-block b. */
    private void tile(Scratch s, int t, int b, int nsb) {
        float[] p = s.panel;
        float[] a = at;
        int c = cols;
        int a0 = t * c + b * 256;
        int a1 = a0 + c;
        int a2 = a1 + c;
        int a3 = a2 + c;
        int[] sums = s.sums;
        for (int h = 0; h < 2; h++) {
            // Even and odd weights in separate chains: sixteen in flight hide the FMA latency (eight did not).
            FloatVector z = FloatVector.zero(F);
            FloatVector e00 = z, e01 = z, e10 = z, e11 = z, e20 = z, e21 = z, e30 = z, e31 = z;
            FloatVector o00 = z, o01 = z, o10 = z, o11 = z, o20 = z, o21 = z, o30 = z, o31 = z;
            for (int k = 128 * h; k < 128 * h + 128; k += 2) {
                FloatVector w0 = FloatVector.fromArray(F, p, k * R);
                FloatVector w1 = FloatVector.fromArray(F, p, k * R + VL);
                FloatVector v0 = FloatVector.fromArray(F, p, k * R + R);
                FloatVector v1 = FloatVector.fromArray(F, p, k * R + R + VL);
                FloatVector x = FloatVector.broadcast(F, a[a0 + k]);
                FloatVector y = FloatVector.broadcast(F, a[a0 + k + 1]);
                e00 = w0.fma(x, e00);
                e01 = w1.fma(x, e01);
                o00 = v0.fma(y, o00);
                o01 = v1.fma(y, o01);
                x = FloatVector.broadcast(F, a[a1 + k]);
                y = FloatVector.broadcast(F, a[a1 + k + 1]);
                e10 = w0.fma(x, e10);
                e11 = w1.fma(x, e11);
                o10 = v0.fma(y, o10);
                o11 = v1.fma(y, o11);
                x = FloatVector.broadcast(F, a[a2 + k]);
                y = FloatVector.broadcast(F, a[a2 + k + 1]);
                e20 = w0.fma(x, e20);
                e21 = w1.fma(x, e21);
                o20 = v0.fma(y, o20);
                o21 = v1.fma(y, o21);
                x = FloatVector.broadcast(F, a[a3 + k]);
                y = FloatVector.broadcast(F, a[a3 + k + 1]);
                e30 = w0.fma(x, e30);
                e31 = w1.fma(x, e31);
                o30 = v0.fma(y, o30);
                o31 = v1.fma(y, o31);
            }
            // The halves' sums as integers (exact), [token of the tile][row], added in integer lanes.
            addInts(e00.add(o00), sums, 0, h);
            addInts(e01.add(o01), sums, VL, h);
            addInts(e10.add(o10), sums, R, h);
            addInts(e11.add(o11), sums, R + VL, h);
            addInts(e20.add(o20), sums, 2 * R, h);
            addInts(e21.add(o21), sums, 2 * R + VL, h);
            addInts(e30.add(o30), sums, 3 * R, h);
            addInts(e31.add(o31), sums, 3 * R + VL, h);
        }
        for (int j = 0; j < NT && t + j < count; j++) {
            finish(s, t + j, b, nsb, j);
        }
    }

    /** As {@link #tile}, for tokens t and t + 1 (past the call: zero activations, results not kept). */
    private void tile2(Scratch s, int t, int b, int nsb) {
        float[] p = s.panel;
        float[] a = at;
        int a0 = t * cols + b * 256;
        int a1 = a0 + cols;
        int[] sums = s.sums;
        for (int h = 0; h < 2; h++) {
            FloatVector z = FloatVector.zero(F);
            FloatVector e00 = z, e01 = z, e10 = z, e11 = z, o00 = z, o01 = z, o10 = z, o11 = z;
            for (int k = 128 * h; k < 128 * h + 128; k += 2) {
                FloatVector w0 = FloatVector.fromArray(F, p, k * R);
                FloatVector w1 = FloatVector.fromArray(F, p, k * R + VL);
                FloatVector v0 = FloatVector.fromArray(F, p, k * R + R);
                FloatVector v1 = FloatVector.fromArray(F, p, k * R + R + VL);
                FloatVector x = FloatVector.broadcast(F, a[a0 + k]);
                FloatVector y = FloatVector.broadcast(F, a[a0 + k + 1]);
                e00 = w0.fma(x, e00);
                e01 = w1.fma(x, e01);
                o00 = v0.fma(y, o00);
                o01 = v1.fma(y, o01);
                x = FloatVector.broadcast(F, a[a1 + k]);
                y = FloatVector.broadcast(F, a[a1 + k + 1]);
                e10 = w0.fma(x, e10);
                e11 = w1.fma(x, e11);
                o10 = v0.fma(y, o10);
                o11 = v1.fma(y, o11);
            }
            addInts(e00.add(o00), sums, 0, h);
            addInts(e01.add(o01), sums, VL, h);
            addInts(e10.add(o10), sums, R, h);
            addInts(e11.add(o11), sums, R + VL, h);
        }
        for (int j = 0; j < 2 && t + j < count; j++) {
            finish(s, t + j, b, nsb, j);
        }
    }

    /** sums[o..] = f as integers (first half, h = 0), or plus them (h = 1). */
    private static void addInts(FloatVector f, int[] sums, int o, int h) {
        IntVector i = (IntVector) f.convert(VectorOperators.F2I, 0);
        if (h == 1) {
            i = i.add(IntVector.fromArray(I, sums, o));
        }
        i.intoArray(sums, o);
    }

    /** Token t's super-block sums for both row vectors: the per-token kernel's float steps, added to its total. */
    private void finish(Scratch s, int t, int b, int nsb, int slot) {
        float da = ad[t * nsb + b];
        int so = (t * nsb + b) * 8;
        for (int v = 0; v < 2; v++) {
            IntVector sum = IntVector.fromArray(I, s.sums, slot * R + v * VL);
            FloatVector m = FloatVector.zero(F);
            for (int j = 0; j < 8; j++) {
                m = FloatVector.fromArray(F, s.mins, j * R + v * VL).fma(FloatVector.broadcast(F, as[so + j]), m);
            }
            FloatVector d = FloatVector.fromArray(F, s.d, v * VL);
            FloatVector dmin = FloatVector.fromArray(F, s.dmin, v * VL);
            FloatVector x = d.mul(da).mul((FloatVector) sum.convert(VectorOperators.I2F, 0)).sub(dmin.mul(da).mul(m));
            int o = t * R + v * VL;
            FloatVector.fromArray(F, s.total, o).add(x).intoArray(s.total, o);
        }
    }

    /** Per worker thread. */
    private static final class Scratch {
        /** The panel: [k][row of the tile], weights times their sub-block's scale. */
        final float[] panel = new float[256 * R];
        /** The tile's rows' super-block as ints, transposed, [int][row] (int 0, d and dmin, unused). */
        final int[] q = new int[INTS * R];
        /** The tile's rows as ints, [row][super-block][INTS]. */
        int[] rows = new int[0];
        /** Sub-block scales and minimums, [sub-block][row]. */
        final float[] scales = new float[8 * R];
        final float[] mins = new float[8 * R];
        final float[] d = new float[R];
        final float[] dmin = new float[R];
        /** A token tile's super-block integer sums, [token of the tile][row]. */
        final int[] sums = new int[NT * R];
        /** Running totals, [token][row]. */
        float[] total = new float[0];

        void ensure(int tokens, int superBlocks) {
            if (total.length < tokens * R) {
                total = new float[tokens * R];
            }
            if (rows.length < R * superBlocks * INTS) {
                rows = new int[R * superBlocks * INTS];
            }
        }
    }
}
