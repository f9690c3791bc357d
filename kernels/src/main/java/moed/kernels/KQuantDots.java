package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Fused dot products for the K-quant super-blocks (256 weights: Q4_K, Q5_K, Q6_K) against Q8_K activations
 * ({@link Activation#q8k}), in integers as llama.cpp's AVX2 loops (see {@link Int16Dot}): each sub-block's integer
 * dot times its small integer scale is summed in 32-bit lanes (at most 256 * 31 * 127 * 63, far from overflow),
 * and the super-block's sum is converted to float once and multiplied by the two float scales. Minimums (Q4_K,
 * Q5_K) are applied once per sub-block against the activation's integer sums. Sub-block scales are unpacked with
 * shifts from one or two wide reads: reading the packed bytes one at a time costs more than the vector work.
 *
 * <p>The integer steps are written out in each loop rather than called from {@link Int16Dot}: a helper that C2
 * has already compiled on its own (because another kernel called it while still interpreted) is not inlined
 * again ("already compiled into a big method"), and vectors passed to an un-inlined call are boxed: measured,
 * Q6_K built from the helpers ran at 1.3 GB/s after other formats had run, written out at 4.1 in any order.
 */
final class KQuantDots {
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private KQuantDots() {
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
            total += superBlock(s, bo, acc.reduceLanes(VectorOperators.ADD), sc8, sc4, a, b);
        }
        return total;
    }

    /** d * da * sum - dmin * da * sum_j(min_j * asum_j): one Q4_K/Q5_K super-block from its integer dot. */
    private static float superBlock(MemorySegment s, long bo, int sum, long sc8, int sc4, Activation a, int b) {
        int mins = 0;
        for (int j = 0; j < 8; j++) {
            mins += minK4(sc8, sc4, j) * (int) a.q8kSum32[b * 8 + j];
        }
        float da = a.q8kScale[b];
        return Bytes.f16(s, bo) * da * sum - Bytes.f16(s, bo + 2) * da * mins;
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

    // block_q5_K { half d; half dmin; uint8 scales[12]; uint8 qh[32]; uint8 qs[128]; }: Q4_K's layout plus a
    // fifth bit per weight: bit 2j of qh[l] belongs to weight 64j+l, bit 2j+1 to weight 64j+32+l. Integer steps
    // written out as in q4_k.
    static float q5_k(MemorySegment s, long off, Activation a, int blocks) {
        short[] q = a.q8k;
        float total = 0;
        for (int b = 0; b < blocks; b++) {
            long bo = off + b * 176L;
            long sc8 = s.get(Bytes.LE_LONG, bo + 4);
            int sc4 = s.get(Bytes.LE_INT, bo + 12);
            ShortVector h0 = (ShortVector) ByteVector.fromMemorySegment(Int16Dot.B16, s, bo + 16, LE).convertShape(VectorOperators.B2S, Int16Dot.S, 0);
            ShortVector h1 = (ShortVector) ByteVector.fromMemorySegment(Int16Dot.B16, s, bo + 32, LE).convertShape(VectorOperators.B2S, Int16Dot.S, 0);
            IntVector acc = IntVector.zero(Int16Dot.I);
            int xb = b * 256;
            for (int j = 0; j < 4; j++) {
                ShortVector p0 = (ShortVector) ByteVector.fromMemorySegment(Int16Dot.B16, s, bo + 48 + 32L * j, LE)
                        .convertShape(VectorOperators.B2S, Int16Dot.S, 0);
                ShortVector p1 = (ShortVector) ByteVector.fromMemorySegment(Int16Dot.B16, s, bo + 64 + 32L * j, LE)
                        .convertShape(VectorOperators.B2S, Int16Dot.S, 0);
                int o = xb + 64 * j;
                int lb = 2 * j;
                ShortVector lo = p0.and((short) 0xF).or(h0.lanewise(VectorOperators.LSHR, lb).and((short) 1).lanewise(VectorOperators.LSHL, 4))
                        .mul(ShortVector.fromArray(Int16Dot.S, q, o))
                        .add(p1.and((short) 0xF).or(h1.lanewise(VectorOperators.LSHR, lb).and((short) 1).lanewise(VectorOperators.LSHL, 4))
                                .mul(ShortVector.fromArray(Int16Dot.S, q, o + 16)));
                ShortVector hi = p0.lanewise(VectorOperators.ASHR, 4).and((short) 0xF)
                        .or(h0.lanewise(VectorOperators.LSHR, lb + 1).and((short) 1).lanewise(VectorOperators.LSHL, 4))
                        .mul(ShortVector.fromArray(Int16Dot.S, q, o + 32))
                        .add(p1.lanewise(VectorOperators.ASHR, 4).and((short) 0xF)
                                .or(h1.lanewise(VectorOperators.LSHR, lb + 1).and((short) 1).lanewise(VectorOperators.LSHL, 4))
                                .mul(ShortVector.fromArray(Int16Dot.S, q, o + 48)));
                IntVector l32 = lo.reinterpretAsInts();
                IntVector h32 = hi.reinterpretAsInts();
                acc = acc.add(l32.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                        .add(l32.lanewise(VectorOperators.ASHR, 16)).mul(scaleK4(sc8, sc4, 2 * j)));
                acc = acc.add(h32.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                        .add(h32.lanewise(VectorOperators.ASHR, 16)).mul(scaleK4(sc8, sc4, 2 * j + 1)));
            }
            total += superBlock(s, bo, acc.reduceLanes(VectorOperators.ADD), sc8, sc4, a, b);
        }
        return total;
    }

    // block_q6_K { uint8 ql[128]; uint8 qh[64]; int8 scales[16]; half d; }: in each 128-weight half, byte l of
    // ql/qh carries weights l, l+32, l+64, l+96; 4 low bits from ql, 2 high bits from qh, offset 32.
    // Against Q8_K activations in integers, the steps written out (see q4_k): each 16 weights have their own
    // signed scale, so the 16-bit products are paired into int lanes and scaled 16 weights at a time.
    static float q6_k(MemorySegment s, long off, Activation a, int blocks) {
        short[] q = a.q8k;
        float total = 0;
        for (int b = 0; b < blocks; b++) {
            long bo = off + b * 210L;
            IntVector acc = IntVector.zero(Int16Dot.I);
            for (int n = 0; n < 2; n++) {
                long scales = s.get(Bytes.LE_LONG, bo + 192 + 8L * n);
                for (int l = 0; l < 32; l += 16) {
                    long ql = bo + 64L * n + l;
                    int o = b * 256 + n * 128 + l;
                    long sc = scales >>> (l / 2);
                    ShortVector a0 = (ShortVector) ByteVector.fromMemorySegment(Int16Dot.B16, s, ql, LE).convertShape(VectorOperators.B2S, Int16Dot.S, 0);
                    ShortVector a1 = (ShortVector) ByteVector.fromMemorySegment(Int16Dot.B16, s, ql + 32, LE).convertShape(VectorOperators.B2S, Int16Dot.S, 0);
                    ShortVector h = (ShortVector) ByteVector.fromMemorySegment(Int16Dot.B16, s, bo + 128 + 32L * n + l, LE).convertShape(VectorOperators.B2S, Int16Dot.S, 0);
                    IntVector p1 = a0.and((short) 0xF).or(h.and((short) 3).lanewise(VectorOperators.LSHL, 4)).sub((short) 32)
                            .mul(ShortVector.fromArray(Int16Dot.S, q, o)).reinterpretAsInts();
                    IntVector p2 = a1.and((short) 0xF).or(h.lanewise(VectorOperators.LSHL, 2).and((short) 0x30)).sub((short) 32)
                            .mul(ShortVector.fromArray(Int16Dot.S, q, o + 32)).reinterpretAsInts();
                    IntVector p3 = a0.lanewise(VectorOperators.ASHR, 4).and((short) 0xF).or(h.and((short) 0x30)).sub((short) 32)
                            .mul(ShortVector.fromArray(Int16Dot.S, q, o + 64)).reinterpretAsInts();
                    IntVector p4 = a1.lanewise(VectorOperators.ASHR, 4).and((short) 0xF).or(h.lanewise(VectorOperators.ASHR, 2).and((short) 0x30))
                            .sub((short) 32).mul(ShortVector.fromArray(Int16Dot.S, q, o + 96)).reinterpretAsInts();
                    acc = acc.add(p1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p1.lanewise(VectorOperators.ASHR, 16)).mul((byte) sc));
                    acc = acc.add(p2.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p2.lanewise(VectorOperators.ASHR, 16)).mul((byte) (sc >>> 16)));
                    acc = acc.add(p3.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p3.lanewise(VectorOperators.ASHR, 16)).mul((byte) (sc >>> 32)));
                    acc = acc.add(p4.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p4.lanewise(VectorOperators.ASHR, 16)).mul((byte) (sc >>> 48)));
                }
            }
            total += Bytes.f16(s, bo + 208) * a.q8kScale[b] * acc.reduceLanes(VectorOperators.ADD);
        }
        return total;
    }
}
