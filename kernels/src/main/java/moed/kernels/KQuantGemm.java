package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Prefill's mat-mat for Q6_K against Q8_K activations: a GEMM whose vector lanes are tokens, giving for every (row,
 * token) exactly the result of {@link KQuantDots#q6_k}, bit for bit (the sibling of {@link Block32Gemm}). Q4_K_M
 * files keep some projections in Q6_K, which per token ran at a fraction of the GEMM's speed. (Q4_K, which this
 * class served too, has {@link KQuantRowGemm}: rows as lanes fill the vectors whatever the token count.)
 *
 * <p>Why it is exact: the single-token kernel computes each super-block's integer sum, over its sixteen groups of 16
 * weights, of scale times (weights . activation integers), and only then goes to floats. Here each group's dot (at
 * most 16 * 32 * 127, far below 2^24) is summed with float FMAs, exactly; times its signed byte scale it is still
 * below 2^24, so converting it to an integer and adding in integer lanes gives the same super-block sum, and the
 * float product per super-block is then formed in the single kernel's order.
 *
 * <p>One instance per {@link MatMat}.
 */
final class KQuantGemm extends TokenLaneGemm {
    private static final VectorSpecies<Float> F = Dot.F;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED.withShape(F.vectorShape());
    /** Bytes that widen to one float vector. */
    private static final VectorSpecies<Byte> B = Dot.B;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Per row and super-block: d, then the sixteen group scales. */
    private static final int SC = 17;
    /** Weights per scale. */
    private static final int GROUP = 16;
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** Activation integers, [group][k][lane]; padding lanes are zero. */
    private float[] at = new float[0];
    /** Per super-block activation scale, [group][superblock][lane]. */
    private float[] ad = new float[0];
    static boolean supports(GgmlType t) {
        return Dot.VECTOR && t == GgmlType.Q6_K;
    }

    /** The Q8_K forms: integers and super-block scales, each [group][..][lane]. */
    @Override
    void layOutLanes(Activation[] xs) {
        at = tokenMinor(at, xs, cols, a -> a.q8k);
        ad = tokenMinorFloats(ad, xs, cols / 256, a -> a.q8kScale);
    }

    @Override
    Tile tile() {
        return SCRATCH.get();
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
            for (int j = 0; j < 16; j++) {
                sc[so + 1 + j] = seg.get(java.lang.foreign.ValueLayout.JAVA_BYTE, bo + 192 + j);
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
        int groups = 256 / GROUP;
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
                int k0 = b * 256 + j * GROUP;
                for (int k = k0; k < k0 + GROUP; k += 2) {
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
                int so = b * SC + 1 + j;
                i0 = i0.add((IntVector) p0.add(q0).mul(c0[so]).convert(VectorOperators.F2I, 0));
                i1 = i1.add((IntVector) p1.add(q1).mul(c1[so]).convert(VectorOperators.F2I, 0));
                i2 = i2.add((IntVector) p2.add(q2).mul(c2[so]).convert(VectorOperators.F2I, 0));
                i3 = i3.add((IntVector) p3.add(q3).mul(c3[so]).convert(VectorOperators.F2I, 0));
            }
            // d * da * sum, in the single kernel's order (KQuantDots.q6_k).
            FloatVector da = FloatVector.fromArray(F, ad, (g * nsb + b) * L);
            int so = b * SC;
            FloatVector x0 = da.mul(c0[so]).mul((FloatVector) i0.convert(VectorOperators.I2F, 0));
            FloatVector x1 = da.mul(c1[so]).mul((FloatVector) i1.convert(VectorOperators.I2F, 0));
            FloatVector x2 = da.mul(c2[so]).mul((FloatVector) i2.convert(VectorOperators.I2F, 0));
            FloatVector x3 = da.mul(c3[so]).mul((FloatVector) i3.convert(VectorOperators.I2F, 0));
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

    /** Per worker thread: four rows widened. */
    private static final class Scratch extends Tile {
        float[][] w = new float[ROWS][0];
        float[][] sc = new float[ROWS][0];

        @Override
        void widen(WeightMatrix m, int j) {
            widenQ6K(m, row[j], w[j], sc[j]);
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
