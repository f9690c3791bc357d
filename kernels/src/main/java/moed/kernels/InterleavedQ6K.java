package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Decode's mat-vec over Q6_K rows in {@link Interleaved}'s layout, rows as vector lanes, as {@link InterleavedQ4K}
 * reads Q4_K: a broadcast pair of activation integers faces two weights of every row at once, each weight's six bits
 * put together from its nibble and its two high bits with shifts and masks. For every row the result is
 * {@link KQuantDots#q6_k}'s, bit for bit.
 *
 * <p>Why: the per-row kernel widens bytes to 16-bit lanes and reduces each super-block across lanes; it read Q6_K at
 * about a third of the read bandwidth (2.9 GB/s on one core of this session's Xeon), the slowest of the common formats,
 * and Q6_K is what llama.cpp's Q4_K_M and Q5_K_M mixes put in the output and half of the down projections.
 *
 * <p>The layout: a block_q6_K { uint8 ql[128]; uint8 qh[64]; int8 scales[16]; half d; } is 210 bytes, not whole ints,
 * but sixteen rows' blocks are 3360: its 52 ints of the sixteen rows int-major (int i of row c at
 * {@code b * 3360 + (slot(i) * 16 + c) * 4}), then the sixteen d at {@code 3328 + 2c}. In half n of the super-block, ql
 * int 16n + i (i < 8) holds weights 128n + 4i ..+3 in its low nibbles and 128n + 64 + 4i ..+3 in its high ones, ql int
 * 16n + 8 + i the same 32 weights on, and qh int 32 + 8n + i their high bits: bits 0-1 of each byte for the first, 2-3
 * for the second, 4-5 and 6-7 for the high nibbles'. {@link #slot} puts the four scale ints first and then each such
 * triple side by side, so the kernel reads a group's run front to back, d last: with the triples in ggml's order (three
 * places in the run at once, d read first) the same kernel streamed from memory at 6.0 against 10.0 GB/s (two threads,
 * 512 bits; 4.2 against 5.3 at 256), alternated in one JVM.
 *
 * <p>Why exact: a weight is q - 32 with q in 0..63; the kernel multiplies q and takes 32 times the sub-block's
 * activation sum ({@link Activation#q8kSum16}) off the integer dot, the same integer. A 16-bit half sums four products
 * of at most 63 * 127 (32,004 < 2^15): each sub-block's products go to two accumulators (the weights of a row's even
 * bytes, and of its odd ones), added as ints. Times the signed scales, the per-row kernel's integers; its float steps
 * follow lane for lane.
 */
final class InterleavedQ6K {
    private static final int GROUP = Interleaved.GROUP;
    /** Bytes between int i and int i + 1 of the same row. */
    private static final int INT_STRIDE = GROUP * 4;
    private static final VectorSpecies<Float> F = Dot.F;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_MAX.withShape(F.vectorShape());
    private static final VectorSpecies<Short> S = ShortVector.SPECIES_MAX.withShape(F.vectorShape());
    private static final int VL = F.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** The low nibble of each 16-bit half. */
    private static final int NIBBLE = 0x000F000F;
    /** Bits 4 and 5 of each 16-bit half, where a weight's two high bits go. */
    private static final int HIGH = 0x00300030;


    private InterleavedQ6K() {
    }

    /**
     * Where block int i goes among the 52 of a row: the four scale ints first, then per half n and i < 8 the three
     * ints the kernel reads together (ql 16n + i, ql 16n + 8 + i, qh 32 + 8n + i), so it reads the run front to back.
     */
    static int slot(int i) {
        if (i >= 48) {
            return i - 48;
        }
        if (i >= 32) {
            int n = (i - 32) / 8;
            return 4 + 24 * n + 3 * ((i - 32) % 8) + 2;
        }
        int n = i / 16;
        return 4 + 24 * n + 3 * (i % 8) + (i % 16) / 8;
    }

    /**
     * Half n (weights 128n..128n+127, sub-blocks 8n..8n+7) of a super-block of VL rows: each sub-block's integer dot
     * times its scale, added to {@code sums}. (A method of its own, as in {@link InterleavedQ3K}: small enough for C1
     * and inside C2's inlining budget.)
     */
    static void half(MemorySegment s, long base, Activation a, int b, int n, int[] sums) {
        int[] x = a.q8kPairs;
        short[] sums16 = a.q8kSum16;
        // The scales of sub-blocks 8n..8n+3 (byte j of the first word: sub-block 8n + j) and 8n+4..8n+7.
        IntVector w0 = IntVector.fromMemorySegment(I, s, base + (2 * n) * (long) INT_STRIDE, LE);
        IntVector w1 = IntVector.fromMemorySegment(I, s, base + (1 + 2 * n) * (long) INT_STRIDE, LE);
        IntVector sum = IntVector.fromArray(I, sums, 0);
        for (int q = 0; q < 2; q++) {
            // Sub-blocks 8n + 2f + q for the four fields f (low nibbles of ql ints 16n + i, of 16n + 8 + i, their high
            // nibbles), i = 4q..4q+3: the products of a row's even bytes (weights k, k + 2) in e, odd ones in o.
            ShortVector e0 = ShortVector.zero(S);
            ShortVector o0 = e0;
            ShortVector e1 = e0;
            ShortVector o1 = e0;
            ShortVector e2 = e0;
            ShortVector o2 = e0;
            ShortVector e3 = e0;
            ShortVector o3 = e0;
            for (int i = 4 * q; i < 4 * q + 4; i++) {
                long at = base + (4 + 24 * n + 3 * i) * (long) INT_STRIDE;
                IntVector lo = IntVector.fromMemorySegment(I, s, at, LE);
                IntVector hi = IntVector.fromMemorySegment(I, s, at + INT_STRIDE, LE);
                IntVector h = IntVector.fromMemorySegment(I, s, at + 2 * INT_STRIDE, LE);
                // Pairs (k, k + 2) and (k + 1, k + 3) of weight k = 128n + 32f + 4i.
                int p = b * 128 + 64 * n + 2 * i;
                e0 = e0.add(lo.and(NIBBLE).or(h.lanewise(VectorOperators.LSHL, 4).and(HIGH))
                        .reinterpretAsShorts().mul(IntVector.broadcast(I, x[p]).reinterpretAsShorts()));
                o0 = o0.add(lo.lanewise(VectorOperators.LSHR, 8).and(NIBBLE).or(h.lanewise(VectorOperators.LSHR, 4).and(HIGH))
                        .reinterpretAsShorts().mul(IntVector.broadcast(I, x[p + 1]).reinterpretAsShorts()));
                e1 = e1.add(hi.and(NIBBLE).or(h.lanewise(VectorOperators.LSHL, 2).and(HIGH))
                        .reinterpretAsShorts().mul(IntVector.broadcast(I, x[p + 16]).reinterpretAsShorts()));
                o1 = o1.add(hi.lanewise(VectorOperators.LSHR, 8).and(NIBBLE).or(h.lanewise(VectorOperators.LSHR, 6).and(HIGH))
                        .reinterpretAsShorts().mul(IntVector.broadcast(I, x[p + 17]).reinterpretAsShorts()));
                e2 = e2.add(lo.lanewise(VectorOperators.LSHR, 4).and(NIBBLE).or(h.and(HIGH))
                        .reinterpretAsShorts().mul(IntVector.broadcast(I, x[p + 32]).reinterpretAsShorts()));
                o2 = o2.add(lo.lanewise(VectorOperators.LSHR, 12).and(NIBBLE).or(h.lanewise(VectorOperators.LSHR, 8).and(HIGH))
                        .reinterpretAsShorts().mul(IntVector.broadcast(I, x[p + 33]).reinterpretAsShorts()));
                e3 = e3.add(hi.lanewise(VectorOperators.LSHR, 4).and(NIBBLE).or(h.lanewise(VectorOperators.LSHR, 2).and(HIGH))
                        .reinterpretAsShorts().mul(IntVector.broadcast(I, x[p + 48]).reinterpretAsShorts()));
                o3 = o3.add(hi.lanewise(VectorOperators.LSHR, 12).and(NIBBLE).or(h.lanewise(VectorOperators.LSHR, 10).and(HIGH))
                        .reinterpretAsShorts().mul(IntVector.broadcast(I, x[p + 49]).reinterpretAsShorts()));
            }
            // Sub-block 8n + 2f + q: scale byte 2(f % 2) + q of word f / 2. (Written out per field: a helper taking
            // vectors would not be inlined here, and its vectors would be boxed.)
            int sb = 16 * b + 8 * n + q;
            IntVector ie = e0.reinterpretAsInts();
            IntVector io = o0.reinterpretAsInts();
            IntVector dot = ie.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(ie.lanewise(VectorOperators.ASHR, 16))
                    .add(io.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)).add(io.lanewise(VectorOperators.ASHR, 16))
                    .sub(32 * sums16[sb]);
            sum = sum.add(dot.mul(w0.lanewise(VectorOperators.LSHL, 24 - 8 * q).lanewise(VectorOperators.ASHR, 24)));
            ie = e1.reinterpretAsInts();
            io = o1.reinterpretAsInts();
            dot = ie.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(ie.lanewise(VectorOperators.ASHR, 16))
                    .add(io.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)).add(io.lanewise(VectorOperators.ASHR, 16))
                    .sub(32 * sums16[sb + 2]);
            sum = sum.add(dot.mul(w0.lanewise(VectorOperators.LSHL, 8 - 8 * q).lanewise(VectorOperators.ASHR, 24)));
            ie = e2.reinterpretAsInts();
            io = o2.reinterpretAsInts();
            dot = ie.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(ie.lanewise(VectorOperators.ASHR, 16))
                    .add(io.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)).add(io.lanewise(VectorOperators.ASHR, 16))
                    .sub(32 * sums16[sb + 4]);
            sum = sum.add(dot.mul(w1.lanewise(VectorOperators.LSHL, 24 - 8 * q).lanewise(VectorOperators.ASHR, 24)));
            ie = e3.reinterpretAsInts();
            io = o3.reinterpretAsInts();
            dot = ie.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(ie.lanewise(VectorOperators.ASHR, 16))
                    .add(io.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)).add(io.lanewise(VectorOperators.ASHR, 16))
                    .sub(32 * sums16[sb + 6]);
            sum = sum.add(dot.mul(w1.lanewise(VectorOperators.LSHL, 8 - 8 * q).lanewise(VectorOperators.ASHR, 24)));
        }
        sum.intoArray(sums, 0);
    }

}
