package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Decode's mat-vec over Q2_K rows in {@link Interleaved}'s layout, rows as vector lanes, as {@link InterleavedQ4K}
 * does for Q4_K: a broadcast pair of activation integers faces two 2-bit weights of every row at once, and nothing is
 * reduced across lanes. For every row the result is {@link KQuantDots#q2_k}'s, bit for bit.
 *
 * <p>Why: the per-row kernel reduces two vectors across lanes per super-block of 256 weights (the weights' sum and the
 * minimums' dot) and multiplies each sub-block's four bit pairs by broadcast scales; at 2.6 bits a weight a super-block
 * is only 84 bytes, so that per-block work dominated and Q2_K read memory at a fifth of its speed.
 *
 * <p>The layout: a block_q2_K { uint8 scales[16]; uint8 qs[64]; half d; half dmin; } as 21 ints, stored int-major
 * within a group (int i of row c at {@code b * 1344 + (i * 16 + c) * 4}): ints 0-3 hold sub-blocks 4i..4i+3's scale
 * (low nibble) and minimum (high nibble), ints 4-19 the weights, int 20 d and dmin. Int 4 + 8n + 4h + i holds qs bytes
 * 32n + 16h + 4i ..+3, whose bits 2j, 2j + 1 are weights 128n + 32j + 16h + 4i ..+3 of sub-block 8n + 2j + h.
 *
 * <p>Why exact: a 16-bit half sums a sub-block's eight products of one parity (at most 3 * 128 each: 3,072), a row's
 * two halves added as ints give the sub-block's integer dot; times the scale, and the minimums' dot, are the
 * per-row kernel's integers, and its float steps follow lane for lane.
 */
final class InterleavedQ2K {
    private static final int GROUP = Interleaved.GROUP;
    /** Bytes of one group's super-block. */
    private static final int GROUP_BLOCK = GROUP * 84;
    /** Bytes between int i and int i + 1 of the same row. */
    private static final int INT_STRIDE = GROUP * 4;
    private static final VectorSpecies<Float> F = Dot.F;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_MAX.withShape(F.vectorShape());
    private static final int VL = F.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Per thread: a super-block's integer sums (weights', minimums') of VL rows, between the two halves. */
    private static final ThreadLocal<int[]> SUMS = ThreadLocal.withInitial(() -> new int[2 * GROUP]);

    private InterleavedQ2K() {
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
        java.util.Arrays.fill(out, o, o + GROUP, 0f);
        for (int b = 0; b < nsb; b++) {
            for (int v = 0; v < GROUP / VL; v++) {
                superBlock(s, groupOff + (long) b * GROUP_BLOCK + v * VL * 4L, a, b, out, o + v * VL, sums);
            }
        }
    }

    /**
     * One super-block of VL rows (their ints at {@code base + i * INT_STRIDE}): {@link KQuantDots#q2_k}'s super-block
     * term, lane by lane, added to {@code total[o..o + VL)} (through the array: a vector returned from a method C2 does
     * not inline is boxed).
     */
    private static void superBlock(MemorySegment s, long base, Activation a, int b, float[] total, int o, int[] sums) {
        IntVector.zero(I).intoArray(sums, 0);
        IntVector.zero(I).intoArray(sums, VL);
        half(s, base, a, b, 0, sums);
        half(s, base, a, b, 1, sums);
        IntVector sum = IntVector.fromArray(I, sums, 0);
        IntVector mins = IntVector.fromArray(I, sums, VL);
        float da = a.q8kScale[b];
        // d and dmin last, where they lie in the run (int 20: d in the low half, dmin in the high; see InterleavedQ6K).
        IntVector dd = IntVector.fromMemorySegment(I, s, base + 20L * INT_STRIDE, LE);
        FloatVector d = Interleaved.halvesToFloats(dd);
        FloatVector dmin = Interleaved.halvesToFloats(dd.lanewise(VectorOperators.LSHR, 16));
        FloatVector term = d.mul(da).mul((FloatVector) sum.convert(VectorOperators.I2F, 0))
                .sub(dmin.mul(da).mul((FloatVector) mins.convert(VectorOperators.I2F, 0)));
        FloatVector.fromArray(F, total, o).add(term).intoArray(total, o);
    }

    /**
     * Sub-blocks 8n..8n+7 of a super-block of VL rows: their integer dots times their scales, and their minimums times
     * the activation's sums, added to {@code sums[0..VL)} and {@code sums[VL..2VL)}. (A method of its own: the whole
     * super-block in one exceeded C2's inlining budget in some runs, leaving vector operations as calls whose vectors
     * were boxed: 0.7 GB/s where it runs at 5-6.)
     */
    private static void half(MemorySegment s, long base, Activation a, int b, int n, int[] sums) {
        int[] x = a.q8kPairs;
        short[] sums16 = a.q8kSum16;
        IntVector sum = IntVector.fromArray(I, sums, 0);
        IntVector mins = IntVector.fromArray(I, sums, VL);
        {
            for (int h = 0; h < 2; h++) {
                // Four ints of weights: each 16-bit half's low byte holds weights k and k + 2 of the row (two bits per
                // sub-block j), its high byte k + 1 and k + 3. Shifted down two bits per j as ints: C2 shifts ints by an
                // immediate but shorts only by a count in a register, two micro-ops; only each half's two low bits
                // are read, so what crosses from the upper half does not matter.
                long w = base + (4 + 8 * n + 4 * h) * (long) INT_STRIDE;
                ShortVector l0 = IntVector.fromMemorySegment(I, s, w, LE).reinterpretAsShorts();
                ShortVector l1 = IntVector.fromMemorySegment(I, s, w + INT_STRIDE, LE).reinterpretAsShorts();
                ShortVector l2 = IntVector.fromMemorySegment(I, s, w + 2 * INT_STRIDE, LE).reinterpretAsShorts();
                ShortVector l3 = IntVector.fromMemorySegment(I, s, w + 3 * INT_STRIDE, LE).reinterpretAsShorts();
                ShortVector h0 = l0.reinterpretAsInts().lanewise(VectorOperators.LSHR, 8).reinterpretAsShorts();
                ShortVector h1 = l1.reinterpretAsInts().lanewise(VectorOperators.LSHR, 8).reinterpretAsShorts();
                ShortVector h2 = l2.reinterpretAsInts().lanewise(VectorOperators.LSHR, 8).reinterpretAsShorts();
                ShortVector h3 = l3.reinterpretAsInts().lanewise(VectorOperators.LSHR, 8).reinterpretAsShorts();
                for (int j = 0; j < 4; j++) {
                    // Sub-block 8n + 2j + h against its activation pairs.
                    int p = b * 128 + 64 * n + 16 * j + 8 * h;
                    ShortVector acc = l0.and((short) 3).mul(IntVector.broadcast(I, x[p]).reinterpretAsShorts())
                            .add(h0.and((short) 3).mul(IntVector.broadcast(I, x[p + 1]).reinterpretAsShorts()))
                            .add(l1.and((short) 3).mul(IntVector.broadcast(I, x[p + 2]).reinterpretAsShorts()))
                            .add(h1.and((short) 3).mul(IntVector.broadcast(I, x[p + 3]).reinterpretAsShorts()))
                            .add(l2.and((short) 3).mul(IntVector.broadcast(I, x[p + 4]).reinterpretAsShorts()))
                            .add(h2.and((short) 3).mul(IntVector.broadcast(I, x[p + 5]).reinterpretAsShorts()))
                            .add(l3.and((short) 3).mul(IntVector.broadcast(I, x[p + 6]).reinterpretAsShorts()))
                            .add(h3.and((short) 3).mul(IntVector.broadcast(I, x[p + 7]).reinterpretAsShorts()));
                    l0 = l0.reinterpretAsInts().lanewise(VectorOperators.LSHR, 2).reinterpretAsShorts();
                    l1 = l1.reinterpretAsInts().lanewise(VectorOperators.LSHR, 2).reinterpretAsShorts();
                    l2 = l2.reinterpretAsInts().lanewise(VectorOperators.LSHR, 2).reinterpretAsShorts();
                    l3 = l3.reinterpretAsInts().lanewise(VectorOperators.LSHR, 2).reinterpretAsShorts();
                    h0 = h0.reinterpretAsInts().lanewise(VectorOperators.LSHR, 2).reinterpretAsShorts();
                    h1 = h1.reinterpretAsInts().lanewise(VectorOperators.LSHR, 2).reinterpretAsShorts();
                    h2 = h2.reinterpretAsInts().lanewise(VectorOperators.LSHR, 2).reinterpretAsShorts();
                    h3 = h3.reinterpretAsInts().lanewise(VectorOperators.LSHR, 2).reinterpretAsShorts();
                    IntVector d = acc.reinterpretAsInts();
                    d = d.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(d.lanewise(VectorOperators.ASHR, 16));
                    int sb = 8 * n + 2 * j + h;
                    IntVector scale = IntVector.fromMemorySegment(I, s, base + (sb / 4) * (long) INT_STRIDE, LE)
                            .lanewise(VectorOperators.LSHR, 8 * (sb % 4));
                    sum = sum.add(d.mul(scale.and(0xF)));
                    mins = mins.add(scale.lanewise(VectorOperators.LSHR, 4).and(0xF).mul(sums16[16 * b + sb]));
                }
            }
        }
        sum.intoArray(sums, 0);
        mins.intoArray(sums, VL);
    }
}
