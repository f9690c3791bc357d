package moed.kernels;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Prefill's mat-mat for Q4_K and Q5_K whose vector lanes are rows: a super-block of {@link #R} rows is widened into a
 * panel where vector k holds weight k of every row, and each token's activation integer is broadcast against it, so
 * the inner loop is nothing but FMAs and any number of tokens fills the vectors. For every (row, token) the result is
 * {@link KQuantDots#q4_k}'s or {@link KQuantDots#q5_k}'s, bit for bit.
 *
 * <p>Why: a prompt's tokens are spread over the experts (64 tokens over 32 experts, top 4: 8 each on average), and
 * {@link KQuantGemm}'s token lanes were half padding at 16 lanes (Q5_K had no GEMM at all). Here a weight is widened
 * once per call and feeds one FMA lane per token, whatever the token count.
 *
 * <p>Why it is exact: the panel holds each weight times its sub-block's scale (at most 15 * 63, or 31 * 63 for Q5_K),
 * so FMA chains give sum(scale_j * weights_j . activations_j) directly. The even and odd chains of a {@link #SEGMENT}
 * of 64 weights hold 64 products of at most 31 * 63 * 127 between them, so every partial sum and their sum are
 * integers below 2^24, exact in floats; converted to integers and added, the segments give the per-token kernel's
 * integer sum. Its float steps (the minimums'
 * term, then d * da * sum - dmin * da * mins, then the running total) follow lane for lane.
 *
 * <p>One instance per {@link MatMat}; per worker thread a panel of one super-block (32 KiB at 512 bits) that stays
 * in L1 while every token tile reads it.
 */
final class KQuantRowGemm extends Gemm {
    private static final VectorSpecies<Float> F = Dot.F;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_MAX.withShape(F.vectorShape());
    private static final int VL = F.length();
    /** Rows per tile: two vectors. */
    static final int R = 2 * VL;
    /**
     * A super-block in ints: d and dmin, twelve bytes of scales, (Q5_K) 32 bytes of fifth bits, 128 of quantized
     * nibbles. Set per call.
     */
    private int ints;
    /** Where a transposed super-block's quantized nibbles start, in ints: after d, dmin and the scales (and Q5_K's bits). */
    private static final int NIBBLES_4 = 4;
    private static final int NIBBLES_5 = 12;
    /** The call's format is Q5_K. */
    private boolean five;
    /** The call's matrix is in {@link Interleaved}'s layout (already transposed, sixteen rows at a time). */
    private boolean interleaved;
    /**
     * Weights a tile sums in floats before converting to integers: a quarter super-block, so that even and odd chains
     * added stay below 2^24 for Q5_K's weights (up to 31 * 63). (A per-format length, half a super-block for Q4_K,
     * made the loop's trip count variable and the tile slower.)
     */
    private static final int SEGMENT = 64;
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
        return Dot.VECTOR && (t == GgmlType.Q4_K || t == GgmlType.Q5_K);
    }

    /**
     * Over interleaved Q4_K, the group kernel taking four tokens at a time ({@link Interleaved#dot4}) is the faster
     * below this many tokens. Alternated in one JVM (two threads, 100 expert-shaped 1024 x 2048 matrices, GFLOP/s,
     * GEMM against four-token group kernel), 512 bits: 4 tokens 28 / 73, 8 48 / 78, 16 54 / 75, 32 68 / 88, 64 93 / 98,
     * 128 85 / 97 (a 2048 x 2048 matrix at 64: 82 / 75); 256 bits: 4 31 / 58, 8 31 / 40, 16 39 / 42, 32 48 / 56, 64
     * 50 / 51, 128 54 / 30. (The group kernel reads every token's activation for each group of rows, the GEMM each
     * weight once per call: past some count the GEMM's tiling wins.)
     */
    static final int INTERLEAVED_Q4K_MIN_TOKENS = 64;

    @Override
    int minTokens(WeightMatrix m) {
        return m.interleaved() && Interleaved.hasFourTokenKernel(m.type()) ? INTERLEAVED_Q4K_MIN_TOKENS : MatMat.GEMM_MIN_TOKENS;
    }

    @Override
    int grain() {
        return R;
    }

    @Override
    void layOut(Activation[] xs) {
        five = m.type() == GgmlType.Q5_K;
        interleaved = m.interleaved();
        ints = m.type().blockBytes / 4;
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
        s.ensure(count + NT - 1, nsb, ints);
        for (int r0 = from; r0 < to; r0 += R) {
            int rows = Math.min(R, to - r0);
            // The tile's rows are one contiguous span: one copy (each read of a segment is checked; the copy's
            // checks are paid once), zeros for rows past the matrix.
            MemorySegment.copy(m.data(), Bytes.LE_INT, r0 * m.rowBytes(), s.rows, 0, rows * nsb * ints);
            java.util.Arrays.fill(s.rows, rows * nsb * ints, R * nsb * ints, 0);
            java.util.Arrays.fill(s.total, 0, count * R, 0f);
            for (int b = 0; b < nsb; b++) {
                if (interleaved) {
                    locate(s, b, nsb, ints);
                } else {
                    transpose(s, b, nsb, ints);
                }
                widen(s, five);
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

    /** Super-block b of the tile's rows (s.rows, row-major) transposed into s.q, their d and dmin into s.d and s.dmin. */
    private static void transpose(Scratch s, int b, int nsb, int ints) {
        int[] src = s.rows;
        int[] q = s.q;
        s.source(q, 0, VL, R);
        for (int c = 0; c < R; c++) {
            // block_q4_K as ints: d and dmin, then the twelve scale bytes, then 32 ints of quantized nibbles (block_q5_K:
            // 8 ints of fifth bits before them); all but d and dmin transposed, [int][row], so that a vector load gives
            // one int of every row (a gather from the rows was no faster).
            int o = (c * nsb + b) * ints;
            int dd = src[o];
            s.d[c] = Float.float16ToFloat((short) dd);
            s.dmin[c] = Float.float16ToFloat((short) (dd >>> 16));
            for (int i = 1; i < ints; i++) {
                q[i * R + c] = src[o + i];
            }
        }
    }

    /**
     * As {@link #transpose}, from interleaved rows (s.rows is [group][super-block][int][row]): nothing to move, the
     * panel reads them where they are (sixteen array copies per int cost more than the rest of the panel).
     */
    private static void locate(Scratch s, int b, int nsb, int ints) {
        int[] src = s.rows;
        int group = Interleaved.GROUP;
        for (int v = 0; v < R / VL; v++) {
            // Int 0 of each row: d in its low half, dmin in its high half.
            IntVector dd = IntVector.fromArray(I, src, start(b, nsb, ints, v * VL));
            Interleaved.halvesToFloats(dd).intoArray(s.d, v * VL);
            Interleaved.halvesToFloats(dd.lanewise(VectorOperators.LSHR, 16)).intoArray(s.dmin, v * VL);
        }
        // Row vector v: rows v * VL .. of the tile, in group v * VL / 16 from row v * VL % 16.
        s.source(src, start(b, nsb, ints, 0), start(b, nsb, ints, VL), group);
    }

    private static int start(int b, int nsb, int ints, int row) {
        int group = Interleaved.GROUP;
        return (row / group * nsb + b) * ints * group + row % group;
    }

    /** The panel of the tile's super-block from s.source: its scales decoded, its weights widened. */
    private static void widen(Scratch s, boolean five) {
        int[] q = s.src;
        int stride = s.stride;
        float[] sc = s.scales;
        float[] mn = s.mins;
        // The eight 6-bit scales and minimums of every row at once (KQuantDots.scalesK4 and minsK4 lane by lane):
        // bytes 0-3 hold scales 0-3 and two high bits of scales 4-7, bytes 4-7 the same for the minimums, bytes 8-11
        // the low four bits of scales 4-7 (low nibbles) and minimums 4-7 (high nibbles).
        for (int v = 0; v < 2; v++) {
            int o = v * VL;
            int in = v == 0 ? s.base0 : s.base1;
            IntVector b0to3 = IntVector.fromArray(I, q, in + stride);
            IntVector b4to7 = IntVector.fromArray(I, q, in + 2 * stride);
            IntVector b8to11 = IntVector.fromArray(I, q, in + 3 * stride);
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
        if (five) {
            panel5(s);
        } else {
            panel4(s);
        }
    }

    /**
     * The panel from the super-block's ints (Q4_K, where {@link Scratch#source} says). Int i of a row's nibbles holds
     * quantized bytes 4i..4i+3: chunk j = i / 8 of 32 bytes, byte l of which holds weight 64j + l in its low nibble
     * (sub-block 2j) and 64j + 32 + l in its high one (sub-block 2j + 1). A method of its own, as {@link #panel5}: in one method with the scales the loop passed C2's
     * node budget and ran with boxed vectors, four times slower.
     */
    private static void panel4(Scratch s) {
        int[] q = s.src;
        int stride = s.stride;
        float[] sc = s.scales;
        float[] p = s.panel;
        int h = 32 * R;
        int qs = NIBBLES_4;
        for (int v = 0; v < 2; v++) {
            for (int i = 0; i < 32; i++) {
                int o = v * VL;
                IntVector g = IntVector.fromArray(I, q, (v == 0 ? s.base0 : s.base1) + (qs + i) * stride);
                int j = i >> 3;
                FloatVector lo = FloatVector.fromArray(F, sc, 2 * j * R + o);
                FloatVector hi = FloatVector.fromArray(F, sc, (2 * j + 1) * R + o);
                int w = (64 * j + 4 * (i & 7)) * R + o;
                // Byte e of every lane: its low nibble is weight k + e, its high one weight k + 32 + e.
                ((FloatVector) g.and(0xF).convert(VectorOperators.I2F, 0)).mul(lo).intoArray(p, w);
                ((FloatVector) g.lanewise(VectorOperators.LSHR, 4).and(0xF).convert(VectorOperators.I2F, 0)).mul(hi).intoArray(p, w + h);
                ((FloatVector) g.lanewise(VectorOperators.LSHR, 8).and(0xF).convert(VectorOperators.I2F, 0)).mul(lo).intoArray(p, w + R);
                ((FloatVector) g.lanewise(VectorOperators.LSHR, 12).and(0xF).convert(VectorOperators.I2F, 0)).mul(hi).intoArray(p, w + R + h);
                ((FloatVector) g.lanewise(VectorOperators.LSHR, 16).and(0xF).convert(VectorOperators.I2F, 0)).mul(lo).intoArray(p, w + 2 * R);
                ((FloatVector) g.lanewise(VectorOperators.LSHR, 20).and(0xF).convert(VectorOperators.I2F, 0)).mul(hi).intoArray(p, w + 2 * R + h);
                ((FloatVector) g.lanewise(VectorOperators.LSHR, 24).and(0xF).convert(VectorOperators.I2F, 0)).mul(lo).intoArray(p, w + 3 * R);
                ((FloatVector) g.lanewise(VectorOperators.LSHR, 28).convert(VectorOperators.I2F, 0)).mul(hi).intoArray(p, w + 3 * R + h);
            }
        }
    }

    /**
     * The panel from the super-block's ints (Q5_K): the nibbles as in {@link #panel4}, each with its fifth bit, bits 2j
     * and 2j + 1 of fifth-bit byte l (int i % 8).
     */
    private static void panel5(Scratch s) {
        int[] q = s.src;
        int stride = s.stride;
        float[] sc = s.scales;
        float[] p = s.panel;
        int h = 32 * R;
        int qs = NIBBLES_5;
        for (int v = 0; v < 2; v++) {
            for (int i = 0; i < 32; i++) {
                int o = v * VL;
                int in = v == 0 ? s.base0 : s.base1;
                IntVector g = IntVector.fromArray(I, q, in + (qs + i) * stride);
                int j = i >> 3;
                IntVector low = g.and(0x0F0F0F0F);
                IntVector high = g.lanewise(VectorOperators.LSHR, 4).and(0x0F0F0F0F);
                IntVector bits = IntVector.fromArray(I, q, in + (4 + (i & 7)) * stride).lanewise(VectorOperators.LSHR, 2 * j);
                low = low.or(bits.and(0x01010101).lanewise(VectorOperators.LSHL, 4));
                high = high.or(bits.and(0x02020202).lanewise(VectorOperators.LSHL, 3));
                FloatVector lo = FloatVector.fromArray(F, sc, 2 * j * R + o);
                FloatVector hi = FloatVector.fromArray(F, sc, (2 * j + 1) * R + o);
                int w = (64 * j + 4 * (i & 7)) * R + o;
                // Byte e of every lane: weight k + e (low) and k + 32 + e (high).
                ((FloatVector) low.and(0xFF).convert(VectorOperators.I2F, 0)).mul(lo).intoArray(p, w);
                ((FloatVector) high.and(0xFF).convert(VectorOperators.I2F, 0)).mul(hi).intoArray(p, w + h);
                ((FloatVector) low.lanewise(VectorOperators.LSHR, 8).and(0xFF).convert(VectorOperators.I2F, 0)).mul(lo).intoArray(p, w + R);
                ((FloatVector) high.lanewise(VectorOperators.LSHR, 8).and(0xFF).convert(VectorOperators.I2F, 0)).mul(hi).intoArray(p, w + R + h);
                ((FloatVector) low.lanewise(VectorOperators.LSHR, 16).and(0xFF).convert(VectorOperators.I2F, 0)).mul(lo).intoArray(p, w + 2 * R);
                ((FloatVector) high.lanewise(VectorOperators.LSHR, 16).and(0xFF).convert(VectorOperators.I2F, 0)).mul(hi).intoArray(p, w + 2 * R + h);
                ((FloatVector) low.lanewise(VectorOperators.LSHR, 24).convert(VectorOperators.I2F, 0)).mul(lo).intoArray(p, w + 3 * R);
                ((FloatVector) high.lanewise(VectorOperators.LSHR, 24).convert(VectorOperators.I2F, 0)).mul(hi).intoArray(p, w + 3 * R + h);
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
        for (int h = 0; h < 256 / SEGMENT; h++) {
            // Even and odd weights in separate chains: sixteen in flight hide the FMA latency (eight did not).
            FloatVector z = FloatVector.zero(F);
            FloatVector e00 = z, e01 = z, e10 = z, e11 = z, e20 = z, e21 = z, e30 = z, e31 = z;
            FloatVector o00 = z, o01 = z, o10 = z, o11 = z, o20 = z, o21 = z, o30 = z, o31 = z;
            for (int k = SEGMENT * h; k < SEGMENT * h + SEGMENT; k += 2) {
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
            // The segment's sums as integers (exact), [token of the tile][row], added in integer lanes.
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

    /**
     * As {@link #tile}, for tokens t and t + 1 (past the call: zero activations, results not kept). Written out, not
     * shared with it: the accumulators must be locals for C2 to keep them in registers (an array of vectors, or a
     * helper taking them, boxes them).
     */
    private void tile2(Scratch s, int t, int b, int nsb) {
        float[] p = s.panel;
        float[] a = at;
        int a0 = t * cols + b * 256;
        int a1 = a0 + cols;
        int[] sums = s.sums;
        for (int h = 0; h < 256 / SEGMENT; h++) {
            FloatVector z = FloatVector.zero(F);
            FloatVector e00 = z, e01 = z, e10 = z, e11 = z, o00 = z, o01 = z, o10 = z, o11 = z;
            for (int k = SEGMENT * h; k < SEGMENT * h + SEGMENT; k += 2) {
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

    /** sums[o..] = f as integers (first segment, h = 0), or plus them. */
    private static void addInts(FloatVector f, int[] sums, int o, int h) {
        IntVector i = (IntVector) f.convert(VectorOperators.F2I, 0);
        if (h > 0) {
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
        final int[] q = new int[GgmlType.Q5_K.blockBytes / 4 * R];
        /** The tile's rows as ints, [row][super-block][int]. */
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
        /**
         * Where the panel reads the super-block's ints: int i of row vector v at {@code src[base_v + i * stride]} (s.q
         * after a transposition, s.rows itself for interleaved rows).
         */
        int[] src;
        int base0;
        int base1;
        int stride;

        void source(int[] src, int base0, int base1, int stride) {
            this.src = src;
            this.base0 = base0;
            this.base1 = base1;
            this.stride = stride;
        }

        void ensure(int tokens, int superBlocks, int ints) {
            if (total.length < tokens * R) {
                total = new float[tokens * R];
            }
            if (rows.length < R * superBlocks * ints) {
                rows = new int[R * superBlocks * ints];
            }
        }
    }
}
