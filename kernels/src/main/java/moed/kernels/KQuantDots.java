package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Fused dot products for the K-quant super-blocks (256 weights: Q2_K, Q3_K, Q4_K, Q5_K, Q6_K) against Q8_K activations
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
    private static final VectorSpecies<Short> S = Int16Dot.S;
    private static final VectorSpecies<Integer> I = Int16Dot.I;
    /** Weights per short vector: 16 at 256 bits, 32 at 512 (see {@link Int16Dot}). */
    private static final int SL = Int16Dot.SL;

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
            long scales = scalesK4(sc8, sc4);
            IntVector acc = IntVector.zero(I);
            int xb = b * 256;
            for (int j = 0; j < 4; j++) {
                // Sub-blocks 2j (low nibbles) and 2j+1 (high nibbles) of these 32 bytes: one vector each at 512
                // bits, two at 256 whose products share 16-bit lanes (one sum of two fits).
                long qs = bo + 16 + 32L * j;
                int o = xb + 64 * j;
                ShortVector p0 = Int16Dot.widenAll(s, qs);
                ShortVector lo = p0.and((short) 0xF).mul(ShortVector.fromArray(S, q, o));
                ShortVector hi = p0.lanewise(VectorOperators.ASHR, 4).and((short) 0xF).mul(ShortVector.fromArray(S, q, o + 32));
                if (!Int16Dot.WIDE) {
                    ShortVector p1 = Int16Dot.widenAll(s, qs + 16);
                    lo = lo.add(p1.and((short) 0xF).mul(ShortVector.fromArray(S, q, o + 16)));
                    hi = hi.add(p1.lanewise(VectorOperators.ASHR, 4).and((short) 0xF).mul(ShortVector.fromArray(S, q, o + 48)));
                }
                IntVector l32 = lo.reinterpretAsInts();
                IntVector h32 = hi.reinterpretAsInts();
                acc = acc.add(l32.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                        .add(l32.lanewise(VectorOperators.ASHR, 16)).mul((int) (scales >>> (16 * j)) & 0xFF));
                acc = acc.add(h32.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                        .add(h32.lanewise(VectorOperators.ASHR, 16)).mul((int) (scales >>> (16 * j + 8)) & 0xFF));
            }
            total += superBlock(s, bo, acc.reduceLanes(VectorOperators.ADD), sc8, sc4, a, b);
        }
        return total;
    }

    /**
     * d * da * sum - dmin * da * sum_j(min_j * asum_j): one Q4_K/Q5_K super-block from its integer dot. The minimums'
     * dot runs as one short float vector: each product is below 2^18 and their sum below 2^24, so it is exact in
     * floats in any order, and equal to the integer dot (eight scalar multiply-adds with their unpacking cost more
     * than the super-block's vector work).
     */
    private static float superBlock(MemorySegment s, long bo, int sum, long sc8, int sc4, Activation a, int b) {
        // Eight bytes in the low half of a 128-bit vector, zeros above (C2 has no one-lane vectors, so no 64-bit one).
        ByteVector mins = LongVector.zero(LongVector.SPECIES_128).withLane(0, minsK4(sc8, sc4)).reinterpretAsBytes();
        FloatVector m = (FloatVector) mins.convertShape(VectorOperators.B2F, Int16Dot.F, 0);
        int minDot = (int) m.mul(FloatVector.fromArray(Int16Dot.F, a.q8kSum32, b * 8)).reduceLanes(VectorOperators.ADD);
        float da = a.q8kScale[b];
        return Float.float16ToFloat(s.get(Bytes.LE_SHORT, bo)) * da * sum - Float.float16ToFloat(s.get(Bytes.LE_SHORT, bo + 2)) * da * minDot;
    }

    /**
     * The eight 6-bit Q4_K/Q5_K sub-block scales, byte j of the result scale j, from the 12 packed scale bytes given
     * as bytes 0-7 (a long) and 8-11 (an int): scales 0-3 are the low six bits of bytes 0-3; scales 4-7 take their
     * low four bits from the low nibbles of bytes 8-11 and their top two from the top bits of bytes 0-3.
     */
    static long scalesK4(long b0to7, int b8to11) {
        int low = (int) b0to7;
        int first = low & 0x3F3F3F3F;
        int second = (b8to11 & 0x0F0F0F0F) | ((low >>> 2) & 0x30303030);
        return (first & 0xFFFFFFFFL) | ((long) second << 32);
    }

    /** The eight minimums, packed as {@link #scalesK4}: from bytes 4-7 and the high nibbles of bytes 8-11. */
    static long minsK4(long b0to7, int b8to11) {
        int high = (int) (b0to7 >>> 32);
        int first = high & 0x3F3F3F3F;
        int second = ((b8to11 >>> 4) & 0x0F0F0F0F) | ((high >>> 2) & 0x30303030);
        return (first & 0xFFFFFFFFL) | ((long) second << 32);
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
            long scales = scalesK4(sc8, sc4);
            ShortVector h0 = Int16Dot.widenAll(s, bo + 16);
            ShortVector h1 = Int16Dot.WIDE ? h0 : Int16Dot.widenAll(s, bo + 32);
            IntVector acc = IntVector.zero(I);
            int xb = b * 256;
            for (int j = 0; j < 4; j++) {
                long qs = bo + 48 + 32L * j;
                int o = xb + 64 * j;
                int lb = 2 * j;
                ShortVector p0 = Int16Dot.widenAll(s, qs);
                ShortVector lo = p0.and((short) 0xF).or(h0.lanewise(VectorOperators.LSHR, lb).and((short) 1).lanewise(VectorOperators.LSHL, 4))
                        .mul(ShortVector.fromArray(S, q, o));
                ShortVector hi = p0.lanewise(VectorOperators.ASHR, 4).and((short) 0xF)
                        .or(h0.lanewise(VectorOperators.LSHR, lb + 1).and((short) 1).lanewise(VectorOperators.LSHL, 4))
                        .mul(ShortVector.fromArray(S, q, o + 32));
                if (!Int16Dot.WIDE) {
                    ShortVector p1 = Int16Dot.widenAll(s, qs + 16);
                    lo = lo.add(p1.and((short) 0xF).or(h1.lanewise(VectorOperators.LSHR, lb).and((short) 1).lanewise(VectorOperators.LSHL, 4))
                            .mul(ShortVector.fromArray(S, q, o + 16)));
                    hi = hi.add(p1.lanewise(VectorOperators.ASHR, 4).and((short) 0xF)
                            .or(h1.lanewise(VectorOperators.LSHR, lb + 1).and((short) 1).lanewise(VectorOperators.LSHL, 4))
                            .mul(ShortVector.fromArray(S, q, o + 48)));
                }
                IntVector l32 = lo.reinterpretAsInts();
                IntVector h32 = hi.reinterpretAsInts();
                acc = acc.add(l32.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                        .add(l32.lanewise(VectorOperators.ASHR, 16)).mul((int) (scales >>> (16 * j)) & 0xFF));
                acc = acc.add(h32.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                        .add(h32.lanewise(VectorOperators.ASHR, 16)).mul((int) (scales >>> (16 * j + 8)) & 0xFF));
            }
            total += superBlock(s, bo, acc.reduceLanes(VectorOperators.ADD), sc8, sc4, a, b);
        }
        return total;
    }

    // block_q6_K { uint8 ql[128]; uint8 qh[64]; int8 scales[16]; half d; }: in each 128-weight half, byte l of
    // ql/qh carries weights l, l+32, l+64, l+96; 4 low bits from ql, 2 high bits from qh, offset 32.
    // Against Q8_K activations in integers, the steps written out (see q4_k): each 16 weights have their own
    // signed scale, so the 16-bit products are paired into int lanes and scaled 16 weights at a time. At 512 bits
    // a vector covers l = 0..31, two scales: int lanes 0-7 take the first, 8-15 the second.
    static float q6_k(MemorySegment s, long off, Activation a, int blocks) {
        short[] q = a.q8k;
        VectorMask<Integer> secondScale = VectorMask.fromLong(I, 0xFF00L);
        float total = 0;
        for (int b = 0; b < blocks; b++) {
            long bo = off + b * 210L;
            IntVector acc = IntVector.zero(I);
            for (int n = 0; n < 2; n++) {
                long scales = s.get(Bytes.LE_LONG, bo + 192 + 8L * n);
                for (int l = 0; l < 32; l += SL) {
                    long ql = bo + 64L * n + l;
                    int o = b * 256 + n * 128 + l;
                    long sc = scales >>> (l / 2);
                    ShortVector a0 = Int16Dot.widenAll(s, ql);
                    ShortVector a1 = Int16Dot.widenAll(s, ql + 32);
                    ShortVector h = Int16Dot.widenAll(s, bo + 128 + 32L * n + l);
                    IntVector p1 = a0.and((short) 0xF).or(h.and((short) 3).lanewise(VectorOperators.LSHL, 4)).sub((short) 32)
                            .mul(ShortVector.fromArray(S, q, o)).reinterpretAsInts();
                    IntVector p2 = a1.and((short) 0xF).or(h.lanewise(VectorOperators.LSHL, 2).and((short) 0x30)).sub((short) 32)
                            .mul(ShortVector.fromArray(S, q, o + 32)).reinterpretAsInts();
                    IntVector p3 = a0.lanewise(VectorOperators.ASHR, 4).and((short) 0xF).or(h.and((short) 0x30)).sub((short) 32)
                            .mul(ShortVector.fromArray(S, q, o + 64)).reinterpretAsInts();
                    IntVector p4 = a1.lanewise(VectorOperators.ASHR, 4).and((short) 0xF).or(h.lanewise(VectorOperators.ASHR, 2).and((short) 0x30))
                            .sub((short) 32).mul(ShortVector.fromArray(S, q, o + 96)).reinterpretAsInts();
                    IntVector s1 = IntVector.broadcast(I, (byte) sc);
                    IntVector s2 = IntVector.broadcast(I, (byte) (sc >>> 16));
                    IntVector s3 = IntVector.broadcast(I, (byte) (sc >>> 32));
                    IntVector s4 = IntVector.broadcast(I, (byte) (sc >>> 48));
                    if (Int16Dot.WIDE) {
                        s1 = s1.blend((byte) (sc >>> 8), secondScale);
                        s2 = s2.blend((byte) (sc >>> 24), secondScale);
                        s3 = s3.blend((byte) (sc >>> 40), secondScale);
                        s4 = s4.blend((byte) (sc >>> 56), secondScale);
                    }
                    acc = acc.add(p1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p1.lanewise(VectorOperators.ASHR, 16)).mul(s1));
                    acc = acc.add(p2.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p2.lanewise(VectorOperators.ASHR, 16)).mul(s2));
                    acc = acc.add(p3.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p3.lanewise(VectorOperators.ASHR, 16)).mul(s3));
                    acc = acc.add(p4.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p4.lanewise(VectorOperators.ASHR, 16)).mul(s4));
                }
            }
            total += Float.float16ToFloat(s.get(Bytes.LE_SHORT, bo + 208)) * a.q8kScale[b] * acc.reduceLanes(VectorOperators.ADD);
        }
        return total;
    }

    // block_q2_K { uint8 scales[16]; uint8 qs[64]; half d; half dmin; }: in each 128-weight half n, bits 2j..2j+1 of
    // qs[32n + l] are weight 128n + 32j + l; each 16 weights (sub-block 8n + 2j, and + 1 for l >= 16) a 4-bit scale
    // and a 4-bit minimum. A vector of qs bytes shifted and masked gives 16 (256 bits) or 32 weights at once; the
    // integer steps are written out as in q4_k, two sub-blocks' scales blended at 512 bits as in q6_k. Minimums
    // against the activation's per-16 integer sums.
    static float q2_k(MemorySegment s, long off, Activation a, int blocks) {
        short[] q = a.q8k;
        VectorMask<Short> secondGroup = VectorMask.fromLong(S, 0xFFFF0000L);
        float total = 0;
        for (int b = 0; b < blocks; b++) {
            long bo = off + b * 84L;
            long sc0 = s.get(Bytes.LE_LONG, bo);
            long sc1 = s.get(Bytes.LE_LONG, bo + 8);
            IntVector acc = IntVector.zero(I);
            for (int n = 0; n < 2; n++) {
                long scales = n == 0 ? sc0 : sc1;
                for (int l = 0; l < 32; l += SL) {
                    ShortVector p = Int16Dot.widenAll(s, bo + 16 + 32L * n + l);
                    // The four shifts' products, each weight already times its 4-bit scale, summed in 16-bit lanes
                    // (3 * 15 * 127 * 4 = 22,860 fits) and paired into ints once.
                    ShortVector sum = ShortVector.zero(S);
                    for (int j = 0; j < 4; j++) {
                        int o = b * 256 + 128 * n + 32 * j + l;
                        int g = 2 * j + l / 16;
                        ShortVector sc = ShortVector.broadcast(S, (short) ((scales >>> (8 * g)) & 0xF));
                        if (Int16Dot.WIDE) {
                            sc = sc.blend((short) ((scales >>> (8 * g + 8)) & 0xF), secondGroup);
                        }
                        sum = sum.add(p.lanewise(VectorOperators.ASHR, 2 * j).and((short) 3).mul(sc).mul(ShortVector.fromArray(S, q, o)));
                    }
                    IntVector pairs = sum.reinterpretAsInts();
                    acc = acc.add(pairs.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(pairs.lanewise(VectorOperators.ASHR, 16)));
                }
            }
            // The minimums' dot: each product fits 16 bits (15 * 16 * 127), paired into ints as the weights' are.
            // Sixteen scalar multiply-adds with their unpacking took 9 of the block's 20 ns.
            ShortVector mins = (ShortVector) ByteVector.fromMemorySegment(Int16Dot.B16, s, bo, LE).lanewise(VectorOperators.LSHR, 4)
                    .convertShape(VectorOperators.B2S, S, 0);
            IntVector mp = mins.mul(ShortVector.fromArray(S, a.q8kSum16, 16 * b)).reinterpretAsInts();
            int minDot = mp.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(mp.lanewise(VectorOperators.ASHR, 16))
                    .reduceLanes(VectorOperators.ADD);
            float da = a.q8kScale[b];
            float sum = Float.float16ToFloat(s.get(Bytes.LE_SHORT, bo + 80)) * da * acc.reduceLanes(VectorOperators.ADD);
            total += sum - Float.float16ToFloat(s.get(Bytes.LE_SHORT, bo + 82)) * da * minDot;
        }
        return total;
    }

    // block_q3_K { uint8 hmask[32]; uint8 qs[64]; uint8 scales[12]; half d; }: Q2_K's two low bits per weight, and a
    // third from bit 4n + j of hmask[l]; q = low + 4 * high - 4, each 16 weights a signed 6-bit scale (minus 32).
    // Integer steps as in q2_k.
    static float q3_k(MemorySegment s, long off, Activation a, int blocks) {
        short[] q = a.q8k;
        VectorMask<Integer> secondScale = VectorMask.fromLong(I, 0xFF00L);
        float total = 0;
        for (int b = 0; b < blocks; b++) {
            long bo = off + b * 110L;
            IntVector acc = IntVector.zero(I);
            for (int n = 0; n < 2; n++) {
                // Scales of sub-blocks 8n..8n+7: words 2n and 2n + 1 of the unpacked scales, as one long.
                long scales = (Q3_KFormat.scaleWord(s, bo, 2 * n) & 0xFFFFFFFFL) | (long) Q3_KFormat.scaleWord(s, bo, 2 * n + 1) << 32;
                for (int l = 0; l < 32; l += SL) {
                    ShortVector p = Int16Dot.widenAll(s, bo + 32 + 32L * n + l);
                    ShortVector h = Int16Dot.widenAll(s, bo + l);
                    for (int j = 0; j < 4; j++) {
                        int o = b * 256 + 128 * n + 32 * j + l;
                        ShortVector w = p.lanewise(VectorOperators.ASHR, 2 * j).and((short) 3)
                                .add(h.lanewise(VectorOperators.ASHR, 4 * n + j).and((short) 1).lanewise(VectorOperators.LSHL, 2)).sub((short) 4);
                        IntVector prod = w.mul(ShortVector.fromArray(S, q, o)).reinterpretAsInts();
                        int g = 2 * j + l / 16;
                        IntVector sc = IntVector.broadcast(I, ((int) (scales >>> (8 * g)) & 0xFF) - 32);
                        if (Int16Dot.WIDE) {
                            sc = sc.blend(((int) (scales >>> (8 * g + 8)) & 0xFF) - 32, secondScale);
                        }
                        acc = acc.add(prod.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                                .add(prod.lanewise(VectorOperators.ASHR, 16)).mul(sc));
                    }
                }
            }
            total += Float.float16ToFloat(s.get(Bytes.LE_SHORT, bo + 108)) * a.q8kScale[b] * acc.reduceLanes(VectorOperators.ADD);
        }
        return total;
    }
}
