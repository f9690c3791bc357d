package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Decode's mat-vec over Q5_K rows in {@link Interleaved}'s layout, rows as vector lanes: {@link InterleavedQ4K}'s kernel
 * with each weight's fifth bit put in from the high-bit bytes. For every row the result is {@link KQuantDots#q5_k}'s,
 * bit for bit.
 *
 * <p>Why: llama.cpp's low-bit mixes put Q5_K where a tensor needs more bits (the qwen3moe-shaped Q2_K file's attention
 * output, a fifth of its bytes a token), and its per-row kernel was the slowest part of that file's decode.
 *
 * <p>The layout: a block_q5_K { half d; half dmin; uint8 scales[12]; uint8 qh[32]; uint8 qs[128]; } is 44 ints, stored
 * int-major as Q4_K's 36 (int i of row c at {@code b * 2816 + (i * 16 + c) * 4}): int 0 d and dmin, 1-3 the scales and
 * minimums (so {@link InterleavedQ4K#floats} reads them as Q4_K's), 4-11 the fifth bits, 12-43 the nibbles. Int 12 +
 * 8j + i holds quantized bytes 32j + 4i ..+3, whose low nibbles are weights 64j + 4i ..+3 and high ones 64j + 32 + 4i
 * ..+3; their fifth bits are bits 2j and 2j + 1 of the same bytes of int 4 + i.
 *
 * <p>Why exact: a 16-bit half sums eight products of at most 31 * 127 (31,496 < 2^15): a row's even bytes' weights and
 * its odd bytes' go to separate accumulators, added as ints; times the sub-block's scale they are the per-row kernel's
 * integers, and the float steps are {@link InterleavedQ4K#term}'s, lane for lane.
 */
final class InterleavedQ5K {
    private static final int GROUP = Interleaved.GROUP;
    /** Bytes of one group's super-block. */
    private static final int GROUP_BLOCK = GROUP * 176;
    /** Bytes between int i and int i + 1 of the same row. */
    private static final int INT_STRIDE = GROUP * 4;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_MAX.withShape(Dot.F.vectorShape());
    private static final VectorSpecies<Short> S = ShortVector.SPECIES_MAX.withShape(Dot.F.vectorShape());
    private static final int VL = Dot.F.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final int NIBBLE = 0x000F000F;
    private static final int BIT = 0x00010001;
    /** Per thread: a super-block's integer sums of VL rows, between its chunks. */
    private static final ThreadLocal<int[]> SUMS = ThreadLocal.withInitial(() -> new int[GROUP]);

    private InterleavedQ5K() {
    }

    /**
     * Rows {@code group * GROUP ..} of interleaved m against one activation (prepared as
     * {@link Activation.Form#Q8_K_PAIRS}) into {@code out[o..o + GROUP)}.
     */
    static void dot(WeightMatrix m, int group, Activation a, float[] out, int o) {
        MemorySegment s = m.data();
        long groupOff = (long) group * GROUP * m.rowBytes();
        int nsb = m.cols() / 256;
        int[] sums = SUMS.get();
        float[] f = InterleavedQ4K.FLOATS.get();
        java.util.Arrays.fill(out, o, o + GROUP, 0f);
        for (int b = 0; b < nsb; b++) {
            for (int v = 0; v < GROUP / VL; v++) {
                long base = groupOff + (long) b * GROUP_BLOCK + v * VL * 4L;
                java.util.Arrays.fill(sums, 0, VL, 0);
                for (int j = 0; j < 4; j++) {
                    chunk(s, base, a.q8kPairs, b, j, sums);
                }
                InterleavedQ4K.floats(s, base, f);
                InterleavedQ4K.term(a, b, out, o + v * VL, sums, 0, f);
            }
        }
    }

    /**
     * Chunk j (sub-blocks 2j, low nibbles, and 2j + 1, high ones) of a super-block of VL rows: its two sub-block dots
     * times their scales, added to {@code sums[0..VL)}. (A method of its own, as in {@link InterleavedQ3K}.)
     */
    private static void chunk(MemorySegment s, long base, int[] x, int b, int j, int[] sums) {
        ShortVector loEven = ShortVector.zero(S);
        ShortVector loOdd = loEven;
        ShortVector hiEven = loEven;
        ShortVector hiOdd = loEven;
        for (int i = 0; i < 8; i++) {
            IntVector g = IntVector.fromMemorySegment(I, s, base + (12 + 8 * j + i) * (long) INT_STRIDE, LE);
            IntVector h = IntVector.fromMemorySegment(I, s, base + (4 + i) * (long) INT_STRIDE, LE);
            int p = (b * 256 + 64 * j + 4 * i) / 2;
            // Bytes 0 and 2 of each row's int (weights k, k + 2) in its 16-bit halves' low bits, bytes 1 and 3 (k + 1,
            // k + 3) shifted down to them; each nibble with its fifth bit moved to bit 4.
            loEven = loEven.add(g.and(NIBBLE).or(h.lanewise(VectorOperators.LSHR, 2 * j).and(BIT).lanewise(VectorOperators.LSHL, 4))
                    .reinterpretAsShorts().mul(IntVector.broadcast(I, x[p]).reinterpretAsShorts()));
            loOdd = loOdd.add(g.lanewise(VectorOperators.LSHR, 8).and(NIBBLE).or(h.lanewise(VectorOperators.LSHR, 8 + 2 * j).and(BIT).lanewise(VectorOperators.LSHL, 4))
                    .reinterpretAsShorts().mul(IntVector.broadcast(I, x[p + 1]).reinterpretAsShorts()));
            hiEven = hiEven.add(g.lanewise(VectorOperators.LSHR, 4).and(NIBBLE).or(h.lanewise(VectorOperators.LSHR, 2 * j + 1).and(BIT).lanewise(VectorOperators.LSHL, 4))
                    .reinterpretAsShorts().mul(IntVector.broadcast(I, x[p + 16]).reinterpretAsShorts()));
            hiOdd = hiOdd.add(g.lanewise(VectorOperators.LSHR, 12).and(NIBBLE).or(h.lanewise(VectorOperators.LSHR, 9 + 2 * j).and(BIT).lanewise(VectorOperators.LSHL, 4))
                    .reinterpretAsShorts().mul(IntVector.broadcast(I, x[p + 17]).reinterpretAsShorts()));
        }
        // The scales of sub-blocks 2j and 2j + 1 (as InterleavedQ4K's chunk4 reads them).
        IntVector b0to3 = IntVector.fromMemorySegment(I, s, base + INT_STRIDE, LE);
        IntVector sc = j < 2 ? b0to3.and(0x3F3F3F3F)
                : IntVector.fromMemorySegment(I, s, base + 3L * INT_STRIDE, LE).and(0x0F0F0F0F).or(b0to3.lanewise(VectorOperators.LSHR, 2).and(0x30303030));
        sc = sc.lanewise(VectorOperators.LSHR, 16 * (j & 1));
        IntVector le = loEven.reinterpretAsInts();
        IntVector lo = loOdd.reinterpretAsInts();
        IntVector he = hiEven.reinterpretAsInts();
        IntVector ho = hiOdd.reinterpretAsInts();
        IntVector low = le.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(le.lanewise(VectorOperators.ASHR, 16))
                .add(lo.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)).add(lo.lanewise(VectorOperators.ASHR, 16));
        IntVector high = he.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(he.lanewise(VectorOperators.ASHR, 16))
                .add(ho.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)).add(ho.lanewise(VectorOperators.ASHR, 16));
        IntVector.fromArray(I, sums, 0).add(low.mul(sc.and(0xFF))).add(high.mul(sc.lanewise(VectorOperators.LSHR, 8).and(0xFF)))
                .intoArray(sums, 0);
    }
}
