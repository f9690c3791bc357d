package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Fused dot products for the K-quant super-blocks (256 weights: Q4_K, Q5_K, Q6_K). Q4_K reads Q8_K activations
 * in integers, as llama.cpp does; Q5_K and Q6_K read float activations (an integer version of each measured
 * slower here: with their extra bit handling, a super-block's vector code exceeds C2's inlining budget,
 * NodeCountInliningCutoff, and split into smaller methods it pays a reduction per call).
 * Sub-block scales are unpacked with shifts from one or two wide reads (reading the packed bytes one at a time
 * costs more than the block's vector arithmetic), and K-quant minimums are applied once per sub-block against
 * the activation's precomputed 32-value sums ({@link Activation#sum32}).
 *
 * <p>Callers ({@link Dot#row}) guarantee the Vector API is on with at least 8 float lanes.
 */
final class KQuantDots {
    private static final VectorSpecies<Float> F = Dot.F;
    private static final int L = Dot.L;
    private static final VectorSpecies<Byte> B = Dot.B;
    private static final VectorSpecies<Integer> I = Dot.I;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private KQuantDots() {
    }

    private static float sum(FloatVector v) {
        return Dot.sum(v);
    }

    // block_q4_K { half d; half dmin; uint8 scales[12]; uint8 qs[128]; }: eight 32-weight sub-blocks, each
    // w = d*sc*q - dmin*m; byte l of the j-th 32 bytes holds weight 64j+l (low nibble) and 64j+32+l (high).
    // Against Q8_K activations in integers ({@link Int16Dot}): each sub-block's integer dot times its 6-bit scale
    // is summed in int lanes (at most 256 * 15 * 127 * 63, far from overflow), converted to float once per
    // super-block. Minimums are applied once per sub-block against the activation's integer sums.
    static float q4_k(MemorySegment s, long off, Activation a, int blocks) {
        short[] q = a.q8k;
        float total = 0;
        for (int b = 0; b < blocks; b++) {
            long bo = off + b * 144L;
            long sc8 = s.get(Bytes.LE_LONG, bo + 4);
            int sc4 = s.get(Bytes.LE_INT, bo + 12);
            IntVector acc = IntVector.zero(Int16Dot.I);
            int xb = b * 256;
            for (int j = 0; j < 4; j++) {
                // Int16Dot's steps written out: called from here they can lose inlining to an earlier standalone
                // compilation ("already compiled into a big method"), and vectors across a call run boxed.
                ShortVector p0 = (ShortVector) ByteVector.fromMemorySegment(Int16Dot.B16, s, bo + 16 + 32L * j, LE)
                        .convertShape(VectorOperators.B2S, Int16Dot.S, 0);
                ShortVector p1 = (ShortVector) ByteVector.fromMemorySegment(Int16Dot.B16, s, bo + 32 + 32L * j, LE)
                        .convertShape(VectorOperators.B2S, Int16Dot.S, 0);
                int o = xb + 64 * j;
                ShortVector lo = p0.and((short) 0xF).mul(ShortVector.fromArray(Int16Dot.S, q, o))
                        .add(p1.and((short) 0xF).mul(ShortVector.fromArray(Int16Dot.S, q, o + 16)));
                ShortVector hi = p0.lanewise(VectorOperators.ASHR, 4).and((short) 0xF).mul(ShortVector.fromArray(Int16Dot.S, q, o + 32))
                        .add(p1.lanewise(VectorOperators.ASHR, 4).and((short) 0xF).mul(ShortVector.fromArray(Int16Dot.S, q, o + 48)));
                IntVector l32 = lo.reinterpretAsInts();
                IntVector h32 = hi.reinterpretAsInts();
                acc = acc.add(l32.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                        .add(l32.lanewise(VectorOperators.ASHR, 16)).mul(scaleK4(sc8, sc4, 2 * j)));
                acc = acc.add(h32.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                        .add(h32.lanewise(VectorOperators.ASHR, 16)).mul(scaleK4(sc8, sc4, 2 * j + 1)));
            }
            int mins = 0;
            for (int j = 0; j < 8; j++) {
                mins += minK4(sc8, sc4, j) * (int) a.q8kSum32[b * 8 + j];
            }
            float da = a.q8kScale[b];
            total += Bytes.f16(s, bo) * da * acc.reduceLanes(VectorOperators.ADD) - Bytes.f16(s, bo + 2) * da * mins;
        }
        return total;
    }

    /**
     * Q4_K sub-block i's 6-bit scale from its 12 packed scale bytes, given as bytes 0-7 (a long) and 8-11 (an int):
     * the same values as {@link Dequantize#scaleMinK4}, without a memory read per value.
     */
    static int scaleK4(long b0to7, int b8to11, int i) {
        return i < 4 ? (int) (b0to7 >>> (8 * i)) & 63
                : ((b8to11 >>> (8 * (i - 4))) & 0xF) | ((int) (b0to7 >>> (8 * (i - 4) + 6)) & 3) << 4;
    }

    static int minK4(long b0to7, int b8to11, int i) {
        return i < 4 ? (int) (b0to7 >>> (8 * (i + 4))) & 63
                : ((b8to11 >>> (8 * (i - 4) + 4)) & 0xF) | ((int) (b0to7 >>> (8 * i + 6)) & 3) << 4;
    }

    // block_q6_K { uint8 ql[128]; uint8 qh[64]; int8 scales[16]; half d; }: in each 128-weight half, byte l of
    // ql/qh carries weights l, l+32, l+64, l+96; 4 low bits from ql, 2 high bits from qh, offset 32.
    static float q6_k(MemorySegment s, long off, Activation a, int blocks) {
        float[] x = a.x;
        VectorSpecies<Integer> iv = I.withShape(F.vectorShape());
        float total = 0;
        for (int b = 0; b < blocks; b++) {
            long bo = off + b * 210L;
            float d = Bytes.f16(s, bo + 208);
            FloatVector acc = FloatVector.zero(F);
            for (int n = 0; n < 2; n++) {
                long ql = bo + 64L * n;
                long qh = bo + 128 + 32L * n;
                // This half's 8 signed scales in one read; byte reads per use cost more than the arithmetic.
                long scales = s.get(Bytes.LE_LONG, bo + 192 + 8L * n);
                int xb = b * 256 + n * 128;
                for (int l = 0; l < 32; l += L) {
                    int is = l / 16;
                    IntVector a0 = (IntVector) ByteVector.fromMemorySegment(B, s, ql + l, LE).convertShape(VectorOperators.B2I, iv, 0);
                    IntVector a1 = (IntVector) ByteVector.fromMemorySegment(B, s, ql + l + 32, LE).convertShape(VectorOperators.B2I, iv, 0);
                    IntVector h = (IntVector) ByteVector.fromMemorySegment(B, s, qh + l, LE).convertShape(VectorOperators.B2I, iv, 0);
                    IntVector q1 = a0.and(0xF).or(h.and(3).lanewise(VectorOperators.LSHL, 4)).sub(32);
                    IntVector q2 = a1.and(0xF).or(h.lanewise(VectorOperators.ASHR, 2).and(3).lanewise(VectorOperators.LSHL, 4)).sub(32);
                    IntVector q3 = a0.lanewise(VectorOperators.ASHR, 4).and(0xF).or(h.lanewise(VectorOperators.ASHR, 4).and(3).lanewise(VectorOperators.LSHL, 4)).sub(32);
                    IntVector q4 = a1.lanewise(VectorOperators.ASHR, 4).and(0xF).or(h.lanewise(VectorOperators.ASHR, 6).and(3).lanewise(VectorOperators.LSHL, 4)).sub(32);
                    acc = ((FloatVector) q1.convertShape(VectorOperators.I2F, F, 0)).mul(FloatVector.fromArray(F, x, xb + l))
                            .fma(FloatVector.broadcast(F, d * (byte) (scales >>> (8 * is))), acc);
                    acc = ((FloatVector) q2.convertShape(VectorOperators.I2F, F, 0)).mul(FloatVector.fromArray(F, x, xb + l + 32))
                            .fma(FloatVector.broadcast(F, d * (byte) (scales >>> (8 * (is + 2)))), acc);
                    acc = ((FloatVector) q3.convertShape(VectorOperators.I2F, F, 0)).mul(FloatVector.fromArray(F, x, xb + l + 64))
                            .fma(FloatVector.broadcast(F, d * (byte) (scales >>> (8 * (is + 4)))), acc);
                    acc = ((FloatVector) q4.convertShape(VectorOperators.I2F, F, 0)).mul(FloatVector.fromArray(F, x, xb + l + 96))
                            .fma(FloatVector.broadcast(F, d * (byte) (scales >>> (8 * (is + 6)))), acc);
                }
            }
            total += sum(acc);
        }
        return total;
    }

    // block_q5_K { half d; half dmin; uint8 scales[12]; uint8 qh[32]; uint8 qs[128]; }: Q4_K's layout plus a
    // fifth bit per weight: bit 2j of qh[l] belongs to weight 64j+l, bit 2j+1 to weight 64j+32+l.
    static float q5_k(MemorySegment s, long off, Activation a, int blocks) {
        float[] x = a.x;
        float[] sums = a.sum32;
        VectorSpecies<Integer> iv = I.withShape(F.vectorShape());
        float total = 0;
        for (int b = 0; b < blocks; b++) {
            long bo = off + b * 176L;
            float d = Bytes.f16(s, bo);
            float dmin = Bytes.f16(s, bo + 2);
            long sc8 = s.get(Bytes.LE_LONG, bo + 4);
            int sc4 = s.get(Bytes.LE_INT, bo + 12);
            long qh = bo + 16;
            long qs = bo + 48;
            int xb = b * 256;
            float mins = 0;
            FloatVector acc = FloatVector.zero(F);
            for (int j = 0; j < 4; j++) {
                mins += minK4(sc8, sc4, 2 * j) * sums[(xb >> 5) + 2 * j]
                        + minK4(sc8, sc4, 2 * j + 1) * sums[(xb >> 5) + 2 * j + 1];
                FloatVector p1 = FloatVector.zero(F);
                FloatVector p2 = FloatVector.zero(F);
                for (int k = 0; k < 32; k += L) {
                    IntVector bytes = (IntVector) ByteVector.fromMemorySegment(B, s, qs + 32L * j + k, LE).convertShape(VectorOperators.B2I, iv, 0);
                    IntVector h = (IntVector) ByteVector.fromMemorySegment(B, s, qh + k, LE).convertShape(VectorOperators.B2I, iv, 0);
                    IntVector h1 = h.lanewise(VectorOperators.LSHR, 2 * j).and(1).lanewise(VectorOperators.LSHL, 4);
                    IntVector h2 = h.lanewise(VectorOperators.LSHR, 2 * j + 1).and(1).lanewise(VectorOperators.LSHL, 4);
                    FloatVector lo = (FloatVector) bytes.and(0xF).or(h1).convertShape(VectorOperators.I2F, F, 0);
                    FloatVector hi = (FloatVector) bytes.lanewise(VectorOperators.ASHR, 4).and(0xF).or(h2).convertShape(VectorOperators.I2F, F, 0);
                    p1 = lo.fma(FloatVector.fromArray(F, x, xb + 64 * j + k), p1);
                    p2 = hi.fma(FloatVector.fromArray(F, x, xb + 64 * j + 32 + k), p2);
                }
                acc = p1.fma(FloatVector.broadcast(F, d * scaleK4(sc8, sc4, 2 * j)), acc);
                acc = p2.fma(FloatVector.broadcast(F, d * scaleK4(sc8, sc4, 2 * j + 1)), acc);
            }
            total += sum(acc) - dmin * mins;
        }
        return total;
    }
}
