package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Decode's mat-vec over Q3_K rows in {@link Interleaved}'s layout, rows as vector lanes: {@link InterleavedQ2K}'s
 * kernel with each weight's third bit put in from the high-bit mask. For every row the result is
 * {@link KQuantDots#q3_k}'s, bit for bit.
 *
 * <p>The layout: a block_q3_K { uint8 hmask[32]; uint8 qs[64]; uint8 scales[12]; half d; } is 110 bytes, not whole ints,
 * but sixteen rows' blocks are 1760 bytes: ints 0-26 of the sixteen rows int-major (int i of row c at
 * {@code b * 1760 + (slot(i) * 16 + c) * 4}: ints 0-7 the high bits, 8-23 the low bits, 24-26 the scales), then the sixteen
 * d at {@code 1728 + 2c}. Int 8 + 8n + 4h + i holds qs bytes 32n + 16h + 4i ..+3, whose bits 2j, 2j + 1 are the low
 * bits of weights 128n + 32j + 16h + 4i ..+3 (sub-block 8n + 2j + h); int 4h + i holds their high bits, bit 4n + j of
 * each byte.
 *
 * <p>Why exact: a weight is q = low + 4 * high - 4; the kernel multiplies low + 4 * high (0..7) and takes 4 times the
 * sub-block's activation sum ({@link Activation#q8kSum16}) off the integer dot, the same integer. A 16-bit half sums
 * eight products of at most 7 * 128 (7,168); the sub-block dots times their signed scales are the per-row kernel's
 * integers, and its float steps follow lane for lane.
 */
final class InterleavedQ3K {
    private static final int GROUP = Interleaved.GROUP;
    /** Bytes between int i and int i + 1 of the same row. */
    private static final int INT_STRIDE = GROUP * 4;
    private static final VectorSpecies<Float> F = Dot.F;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_MAX.withShape(F.vectorShape());
    private static final int VL = F.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private InterleavedQ3K() {
    }

    /**
     * Where block int i goes among the 27 of a row: the three scale ints (24-26) first, then in the order the kernel
     * reads them: high bits 0-3, low bits 8-11, high bits 4-7, low bits 12-15, then 16-19 and 20-23 (the second half
     * reads the high bits again, from cache). Front to back, as {@link InterleavedQ6K}'s layout, for the same reason.
     */
    static int slot(int i) {
        if (i >= 24) {
            return i - 24;
        }
        if (i < 8) {
            return 3 + 8 * (i / 4) + i % 4;
        }
        return i < 16 ? 7 + 8 * ((i - 8) / 4) + i % 4 : 3 + i;
    }

    /**
     * Sub-blocks 8n..8n+7 of a super-block of VL rows: each one's integer dot times its scale, added to {@code sums}.
     * (A method of its own: the whole super-block in one exceeded C2's inlining budget in some runs, leaving vector
     * operations as calls whose vectors were boxed, at 0.1 GB/s.)
     */
    static void half(MemorySegment s, long base, Activation a, int b, int n, int[] sums) {
        // Sub-blocks 8n..8n+7's 6-bit scales as Q3_KFormat.scaleWord unpacks them (words 2n and 2n + 1): byte j of
        // the first is sub-block 8n + j's, of the second 8n + 4 + j's.
        IntVector highs = IntVector.fromMemorySegment(I, s, base + 2L * INT_STRIDE, LE).lanewise(VectorOperators.LSHR, 4 * n);
        IntVector wa = IntVector.fromMemorySegment(I, s, base, LE).lanewise(VectorOperators.LSHR, 4 * n)
                .and(0x0F0F0F0F).or(highs.and(0x03030303).lanewise(VectorOperators.LSHL, 4));
        IntVector wb = IntVector.fromMemorySegment(I, s, base + INT_STRIDE, LE).lanewise(VectorOperators.LSHR, 4 * n)
                .and(0x0F0F0F0F).or(highs.lanewise(VectorOperators.LSHR, 2).and(0x03030303).lanewise(VectorOperators.LSHL, 4));
        int[] x = a.q8kPairs;
        short[] sums16 = a.q8kSum16;
        IntVector sum = IntVector.fromArray(I, sums, 0);
        {
            for (int h = 0; h < 2; h++) {
                // As InterleavedQ2K: the low bits' ints shifted down two bits per j, as ints. The high bits' ints: bit
                // 4n + j of each byte moved to bit 2 (where it weighs 4), shifted down one bit per j.
                long q = base + slot(8 + 8 * n + 4 * h) * (long) INT_STRIDE;
                long hm = base + slot(4 * h) * (long) INT_STRIDE;
                IntVector l0 = IntVector.fromMemorySegment(I, s, q, LE);
                IntVector l1 = IntVector.fromMemorySegment(I, s, q + INT_STRIDE, LE);
                IntVector l2 = IntVector.fromMemorySegment(I, s, q + 2 * INT_STRIDE, LE);
                IntVector l3 = IntVector.fromMemorySegment(I, s, q + 3 * INT_STRIDE, LE);
                IntVector h0 = l0.lanewise(VectorOperators.LSHR, 8);
                IntVector h1 = l1.lanewise(VectorOperators.LSHR, 8);
                IntVector h2 = l2.lanewise(VectorOperators.LSHR, 8);
                IntVector h3 = l3.lanewise(VectorOperators.LSHR, 8);
                IntVector r0 = IntVector.fromMemorySegment(I, s, hm, LE);
                IntVector r1 = IntVector.fromMemorySegment(I, s, hm + INT_STRIDE, LE);
                IntVector r2 = IntVector.fromMemorySegment(I, s, hm + 2 * INT_STRIDE, LE);
                IntVector r3 = IntVector.fromMemorySegment(I, s, hm + 3 * INT_STRIDE, LE);
                // (The high bytes' bits taken down before moving up two: a top byte's bits 6 and 7 would leave the int.)
                IntVector m0 = r0.lanewise(VectorOperators.LSHL, 2).lanewise(VectorOperators.LSHR, 4 * n);
                IntVector m1 = r1.lanewise(VectorOperators.LSHL, 2).lanewise(VectorOperators.LSHR, 4 * n);
                IntVector m2 = r2.lanewise(VectorOperators.LSHL, 2).lanewise(VectorOperators.LSHR, 4 * n);
                IntVector m3 = r3.lanewise(VectorOperators.LSHL, 2).lanewise(VectorOperators.LSHR, 4 * n);
                IntVector n0 = r0.lanewise(VectorOperators.LSHR, 8).lanewise(VectorOperators.LSHL, 2).lanewise(VectorOperators.LSHR, 4 * n);
                IntVector n1 = r1.lanewise(VectorOperators.LSHR, 8).lanewise(VectorOperators.LSHL, 2).lanewise(VectorOperators.LSHR, 4 * n);
                IntVector n2 = r2.lanewise(VectorOperators.LSHR, 8).lanewise(VectorOperators.LSHL, 2).lanewise(VectorOperators.LSHR, 4 * n);
                IntVector n3 = r3.lanewise(VectorOperators.LSHR, 8).lanewise(VectorOperators.LSHL, 2).lanewise(VectorOperators.LSHR, 4 * n);
                for (int j = 0; j < 4; j++) {
                    // Sub-block 8n + 2j + h: low + 4 * high for each row's weights k, k + 2 (low bytes of the halves)
                    // and k + 1, k + 3 (high bytes), against their activation pairs.
                    int p = b * 128 + 64 * n + 16 * j + 8 * h;
                    ShortVector acc = l0.and(0x00030003).or(m0.and(0x00040004)).reinterpretAsShorts().mul(IntVector.broadcast(I, x[p]).reinterpretAsShorts())
                            .add(h0.and(0x00030003).or(n0.and(0x00040004)).reinterpretAsShorts().mul(IntVector.broadcast(I, x[p + 1]).reinterpretAsShorts()))
                            .add(l1.and(0x00030003).or(m1.and(0x00040004)).reinterpretAsShorts().mul(IntVector.broadcast(I, x[p + 2]).reinterpretAsShorts()))
                            .add(h1.and(0x00030003).or(n1.and(0x00040004)).reinterpretAsShorts().mul(IntVector.broadcast(I, x[p + 3]).reinterpretAsShorts()))
                            .add(l2.and(0x00030003).or(m2.and(0x00040004)).reinterpretAsShorts().mul(IntVector.broadcast(I, x[p + 4]).reinterpretAsShorts()))
                            .add(h2.and(0x00030003).or(n2.and(0x00040004)).reinterpretAsShorts().mul(IntVector.broadcast(I, x[p + 5]).reinterpretAsShorts()))
                            .add(l3.and(0x00030003).or(m3.and(0x00040004)).reinterpretAsShorts().mul(IntVector.broadcast(I, x[p + 6]).reinterpretAsShorts()))
                            .add(h3.and(0x00030003).or(n3.and(0x00040004)).reinterpretAsShorts().mul(IntVector.broadcast(I, x[p + 7]).reinterpretAsShorts()));
                    l0 = l0.lanewise(VectorOperators.LSHR, 2);
                    l1 = l1.lanewise(VectorOperators.LSHR, 2);
                    l2 = l2.lanewise(VectorOperators.LSHR, 2);
                    l3 = l3.lanewise(VectorOperators.LSHR, 2);
                    h0 = h0.lanewise(VectorOperators.LSHR, 2);
                    h1 = h1.lanewise(VectorOperators.LSHR, 2);
                    h2 = h2.lanewise(VectorOperators.LSHR, 2);
                    h3 = h3.lanewise(VectorOperators.LSHR, 2);
                    m0 = m0.lanewise(VectorOperators.LSHR, 1);
                    m1 = m1.lanewise(VectorOperators.LSHR, 1);
                    m2 = m2.lanewise(VectorOperators.LSHR, 1);
                    m3 = m3.lanewise(VectorOperators.LSHR, 1);
                    n0 = n0.lanewise(VectorOperators.LSHR, 1);
                    n1 = n1.lanewise(VectorOperators.LSHR, 1);
                    n2 = n2.lanewise(VectorOperators.LSHR, 1);
                    n3 = n3.lanewise(VectorOperators.LSHR, 1);
                    IntVector dot = acc.reinterpretAsInts();
                    int sb = 8 * n + 2 * j + h;
                    dot = dot.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(dot.lanewise(VectorOperators.ASHR, 16))
                            .sub(4 * sums16[16 * b + sb]);
                    IntVector word = sb % 8 < 4 ? wa : wb;
                    sum = sum.add(dot.mul(word.lanewise(VectorOperators.LSHR, 8 * (sb % 4)).and(0x3F).sub(32)));
                }
            }
        }
        sum.intoArray(sums, 0);
    }
}
