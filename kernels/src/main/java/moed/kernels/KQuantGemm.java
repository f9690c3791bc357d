package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Prefill's mat-mat for the K-quants Q4_K and Q6_K against Q8_K activations: a GEMM whose vector lanes are tokens,
 * giving for every (row, token) exactly the result of {@link KQuantDots#q4_k} or {@link KQuantDots#q6_k}, bit for
 * bit (the sibling of {@link Block32Gemm}). Q4_K_M files keep some projections in Q6_K, which per token ran at a
 * fraction of the GEMM's speed.
 *
 * <p>Why it is exact: the single-token kernels compute each super-block's integer sum, over its groups (eight of 32
 * weights for Q4_K, sixteen of 16 for Q6_K) of scale times (weights . activation integers), and only then go to
 * floats. Here each group's dot (at most 32 * 15 * 127, or 16 * 32 * 127, far below 2^24) is summed with float FMAs,
 * exactly; times its scale (6 bits, or a signed byte) it is still below 2^24, so converting it to an integer and
 * adding in integer lanes gives the same super-block sum. Q4_K's minimum term (scale minimums times the
 * activation's integer sums, at most 2^21) is exact in floats too, and the float products per super-block are then
 * formed in the single kernel's order.
 *
 * <p>One instance per format and {@link MatMat}.
 */
final class KQuantGemm extends TokenLaneGemm {
    private static final VectorSpecies<Float> F = Dot.F;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED.withShape(F.vectorShape());
    /** Bytes that widen to one float vector. */
    private static final VectorSpecies<Byte> B = Dot.B;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /**
     * Per row and super-block: d, dmin (0 for Q6_K), then the group scales, then (Q4_K) the eight minimums: 2 + 8 + 8
     * or 2 + 16 values.
     */
    private static final int SC = 18;
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** Weights per scale: 32 (Q4_K) or 16 (Q6_K). */
    private final int group;
    /** Whether the format subtracts minimums (Q4_K). */
    private final boolean mins;
    /** Activation integers, [group][k][lane]; padding lanes are zero. */
    private float[] at = new float[0];
    /** Per super-block activation scale, [group][superblock][lane]. */
    private float[] ad = new float[0];
    /** Per 32 the activation's integer sum, [group][sub-block][lane] (Q4_K's minimums). */
    private float[] as = new float[0];

    KQuantGemm(GgmlType format) {
        if (format != GgmlType.Q4_K && format != GgmlType.Q6_K) {
            throw new IllegalArgumentException("no K-quant GEMM for " + format);
        }
        this.group = format == GgmlType.Q4_K ? 32 : 16;
        this.mins = format == GgmlType.Q4_K;
    }

    static boolean supports(GgmlType t) {
        return Dot.VECTOR && (t == GgmlType.Q4_K || t == GgmlType.Q6_K);
    }

    /** The Q8_K forms: integers, super-block scales and (Q4_K) per-32 integer sums, each [group][..][lane]. */
    @Override
    void layOutLanes(Activation[] xs) {
        at = tokenMinor(at, xs, cols, a -> a.q8k);
        ad = tokenMinorFloats(ad, xs, cols / 256, a -> a.q8kScale);
        if (mins) {
            as = tokenMinorFloats(as, xs, cols / 256 * 8, a -> a.q8kSum32);
        }
    }

    @Override
    Tile tile() {
        return SCRATCH.get();
    }

    private static void widenQ4K(WeightMatrix m, int row, float[] w, float[] sc) {
        MemorySegment seg = m.data();
        long off = row * m.rowBytes();
        int nsb = m.cols() / 256;
        // block_q4_K { half d; half dmin; uint8 scales[12]; uint8 qs[128]; }: byte l of the j-th 32 bytes holds
        // weight 64j+l (low nibble) and 64j+32+l (high).
        for (int b = 0; b < nsb; b++) {
            long bo = off + b * 144L;
            long sc8 = seg.get(Bytes.LE_LONG, bo + 4);
            int sc4 = seg.get(Bytes.LE_INT, bo + 12);
            int so = b * SC;
            sc[so] = Bytes.f16(seg, bo);
            sc[so + 1] = Bytes.f16(seg, bo + 2);
            long scales = KQuantDots.scalesK4(sc8, sc4);
            long mins = KQuantDots.minsK4(sc8, sc4);
            for (int j = 0; j < 8; j++) {
                sc[so + 2 + j] = (int) (scales >>> (8 * j)) & 0xFF;
                sc[so + 10 + j] = (int) (mins >>> (8 * j)) & 0xFF;
            }
            for (int j = 0; j < 4; j++) {
                int o = b * 256 + 64 * j;
                for (int l = 0; l < 32; l += L) {
                    ByteVector p = ByteVector.fromMemorySegment(B, seg, bo + 16 + 32L * j + l, LE);
                    ((FloatVector) p.and((byte) 0xF).convertShape(VectorOperators.B2F, F, 0)).intoArray(w, o + l);
                    ((FloatVector) p.lanewise(VectorOperators.LSHR, 4).convertShape(VectorOperators.B2F, F, 0))
                            .intoArray(w, o + 32 + l);
                }
            }
        }
    }

    private static void widenQ6K(WeightMatrix m, int row, float[] w, float[] sc) {
        MemorySegment seg = m.data();
        long off = row * m.rowBytes();
        int nsb = m.cols() / 256;
        // block_q6_K { uint8 ql[128]; uint8 qh[64]; int8 scales[16]; half d; }: in each 128-weight half n, byte l of
        // ql (and ql + 32) and of qh carries weights l, l+32, l+64, l+96: low four bits from ql, two high from qh.
        for (int b = 0; b < nsb; b++) {
            long bo = off + b * 210L;
            int so = b * SC;
            sc[so] = Bytes.f16(seg, bo + 208);
            sc[so + 1] = 0;
            for (int j = 0; j < 16; j++) {
                sc[so + 2 + j] = seg.get(java.lang.foreign.ValueLayout.JAVA_BYTE, bo + 192 + j);
            }
            for (int n = 0; n < 2; n++) {
                int o = b * 256 + n * 128;
                for (int l = 0; l < 32; l += L) {
                    ByteVector a0 = ByteVector.fromMemorySegment(B, seg, bo + 64L * n + l, LE);
                    ByteVector a1 = ByteVector.fromMemorySegment(B, seg, bo + 64L * n + 32 + l, LE);
                    ByteVector h = ByteVector.fromMemorySegment(B, seg, bo + 128 + 32L * n + l, LE);
                    widenTo(a0.and((byte) 0xF).or(h.and((byte) 3).lanewise(VectorOperators.LSHL, 4)), w, o + l);
                    widenTo(a1.and((byte) 0xF).or(h.lanewise(VectorOperators.LSHL, 2).and((byte) 0x30)), w, o + 32 + l);
                    widenTo(a0.lanewise(VectorOperators.LSHR, 4).or(h.and((byte) 0x30)), w, o + 64 + l);
                    widenTo(a1.lanewise(VectorOperators.LSHR, 4).or(h.lanewise(VectorOperators.LSHR, 2).and((byte) 0x30)), w, o + 96 + l);
                }
            }
        }
    }

    /** Six-bit values (0..63, in bytes) less 32, as L floats at w[o]. */
    private static void widenTo(ByteVector q, float[] w, int o) {
        ((FloatVector) q.sub((byte) 32).convertShape(VectorOperators.B2F, F, 0)).intoArray(w, o);
    }

    @Override
    void compute(Tile tile, int g) {
        Scratch s = (Scratch) tile;
        float[] a = at;
        float[] w0 = s.w[0];
        float[] w1 = s.w[1];
        float[] w2 = s.w[2];
        float[] w3 = s.w[3];
        float[] c0 = s.sc[0];
        float[] c1 = s.sc[1];
        float[] c2 = s.sc[2];
        float[] c3 = s.sc[3];
        int nsb = cols / 256;
        int groups = 256 / group;
        FloatVector z = FloatVector.zero(F);
        FloatVector t0 = z;
        FloatVector t1 = z;
        FloatVector t2 = z;
        FloatVector t3 = z;
        for (int b = 0; b < nsb; b++) {
            IntVector i0 = IntVector.zero(I);
            IntVector i1 = i0;
            IntVector i2 = i0;
            IntVector i3 = i0;
            for (int j = 0; j < groups; j++) {
                // Group j's dot for each row, exact in floats; two partial sums per row hide the FMA latency.
                FloatVector p0 = z, q0 = z, p1 = z, q1 = z, p2 = z, q2 = z, p3 = z, q3 = z;
                int k0 = b * 256 + j * group;
                for (int k = k0; k < k0 + group; k += 2) {
                    int ao = (g * cols + k) * L;
                    FloatVector x = FloatVector.fromArray(F, a, ao);
                    FloatVector y = FloatVector.fromArray(F, a, ao + L);
                    p0 = x.fma(FloatVector.broadcast(F, w0[k]), p0);
                    q0 = y.fma(FloatVector.broadcast(F, w0[k + 1]), q0);
                    p1 = x.fma(FloatVector.broadcast(F, w1[k]), p1);
                    q1 = y.fma(FloatVector.broadcast(F, w1[k + 1]), q1);
                    p2 = x.fma(FloatVector.broadcast(F, w2[k]), p2);
                    q2 = y.fma(FloatVector.broadcast(F, w2[k + 1]), q2);
                    p3 = x.fma(FloatVector.broadcast(F, w3[k]), p3);
                    q3 = y.fma(FloatVector.broadcast(F, w3[k + 1]), q3);
                }
                int so = b * SC + 2 + j;
                i0 = i0.add((IntVector) p0.add(q0).mul(c0[so]).convert(VectorOperators.F2I, 0));
                i1 = i1.add((IntVector) p1.add(q1).mul(c1[so]).convert(VectorOperators.F2I, 0));
                i2 = i2.add((IntVector) p2.add(q2).mul(c2[so]).convert(VectorOperators.F2I, 0));
                i3 = i3.add((IntVector) p3.add(q3).mul(c3[so]).convert(VectorOperators.F2I, 0));
            }
            // d * da * sum (- dmin * da * mins), in the single kernels' order (KQuantDots.superBlock, q6_k).
            FloatVector da = FloatVector.fromArray(F, ad, (g * nsb + b) * L);
            int so = b * SC;
            FloatVector x0 = da.mul(c0[so]).mul((FloatVector) i0.convert(VectorOperators.I2F, 0));
            FloatVector x1 = da.mul(c1[so]).mul((FloatVector) i1.convert(VectorOperators.I2F, 0));
            FloatVector x2 = da.mul(c2[so]).mul((FloatVector) i2.convert(VectorOperators.I2F, 0));
            FloatVector x3 = da.mul(c3[so]).mul((FloatVector) i3.convert(VectorOperators.I2F, 0));
            if (mins) {
                // The minimum terms (integers at most 2^21) are exact in floats in any order.
                FloatVector m0 = z, m1 = z, m2 = z, m3 = z;
                for (int j = 0; j < 8; j++) {
                    FloatVector sums = FloatVector.fromArray(F, as, ((g * nsb + b) * 8 + j) * L);
                    m0 = sums.fma(FloatVector.broadcast(F, c0[so + 10 + j]), m0);
                    m1 = sums.fma(FloatVector.broadcast(F, c1[so + 10 + j]), m1);
                    m2 = sums.fma(FloatVector.broadcast(F, c2[so + 10 + j]), m2);
                    m3 = sums.fma(FloatVector.broadcast(F, c3[so + 10 + j]), m3);
                }
                x0 = x0.sub(da.mul(c0[so + 1]).mul(m0));
                x1 = x1.sub(da.mul(c1[so + 1]).mul(m1));
                x2 = x2.sub(da.mul(c2[so + 1]).mul(m2));
                x3 = x3.sub(da.mul(c3[so + 1]).mul(m3));
            }
            t0 = t0.add(x0);
            t1 = t1.add(x1);
            t2 = t2.add(x2);
            t3 = t3.add(x3);
        }
        t0.intoArray(s.result, 0);
        store(g, s.row[0], s.result);
        t1.intoArray(s.result, 0);
        store(g, s.row[1], s.result);
        t2.intoArray(s.result, 0);
        store(g, s.row[2], s.result);
        t3.intoArray(s.result, 0);
        store(g, s.row[3], s.result);
    }

    /** Per worker thread: four rows widened, whichever K-quant the call is (the GEMM of one call has one format). */
    private static final class Scratch extends Tile {
        float[][] w = new float[ROWS][0];
        float[][] sc = new float[ROWS][0];

        @Override
        void widen(WeightMatrix m, int j) {
            if (m.type() == GgmlType.Q4_K) {
                widenQ4K(m, row[j], w[j], sc[j]);
            } else {
                widenQ6K(m, row[j], w[j], sc[j]);
            }
        }

        @Override
        void ensure(int cols) {
            if (w[0].length < cols) {
                for (int j = 0; j < ROWS; j++) {
                    w[j] = new float[cols];
                    sc[j] = new float[cols / 256 * SC];
                }
            }
        }
    }
}
