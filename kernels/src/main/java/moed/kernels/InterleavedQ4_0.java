package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Decode's mat-vec over Q4_0 rows in {@link Interleaved}'s layout, rows as vector lanes, with {@link InterleavedQ8_0}'s
 * float steps: the per-row kernel ({@link Block32Dots#q4_0}) keeps eight lanes per block, lane i the integer sum of
 * weights 2i, 2i + 1, 16 + 2i and 17 + 2i (each q - 8) times their activations, each scaled by the block's two scales
 * into its own accumulator, and adds the eight at the end; here accumulator i is a vector over the rows and every step
 * happens lane for lane: the same bits.
 *
 * <p>The layout: the sixteen rows' d first (row c's at {@code 2c}), then for each pair of lanes (2P, 2P + 1) the rows'
 * quantized bytes 4P..4P+3 as one int per row (row c's at {@code 32 + 64P + 4c}). Byte 2i of a row holds weights 2i
 * (low nibble) and 16 + 2i (high), byte 2i + 1 weights 2i + 1 and 17 + 2i, so a row's int holds lanes 2P and 2P + 1
 * whole, one in each 16-bit half; masked and shifted as ints, each nibble faces a broadcast pair of activation
 * integers ({@link Activation#q4Pairs}, Q8_K's pairing over Q8_0's integers), and eight times the lane's activation sum
 * ({@link Activation#q4Offsets}) is taken off in the same 16-bit half (at most 4 * 15 * 128 and 8 * 4 * 128: both
 * below 2^15), which gives the integer of q - 8.
 *
 * <p>Why: the per-row kernel widens each block's sixteen bytes to 16-bit lanes (half of a 512-bit vector idle) and
 * shifts 16-bit lanes by a register count; it read Q4_0 at about 30% of the read bandwidth at both widths.
 */
final class InterleavedQ4_0 {
    private static final int GROUP = Interleaved.GROUP;
    /** Bytes of one group's block: sixteen halves, then four runs of one int per row. */
    private static final int GROUP_BLOCK = GROUP * 18;
    private static final VectorSpecies<Float> F = Dot.F;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_MAX.withShape(F.vectorShape());
    private static final int VL = F.length();
    /** VL halves (half a float vector's bits). */
    private static final VectorSpecies<Short> H = ShortVector.SPECIES_MAX.withShape(VectorShape.forBitSize(F.vectorBitSize() / 2));
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** The low nibble of each 16-bit half. */
    private static final int NIBBLE = 0x000F000F;

    private InterleavedQ4_0() {
    }

    /**
     * Rows {@code group * GROUP ..} of interleaved m against one activation (prepared as
     * {@link Activation.Form#Q4_0_PAIRS}) into {@code out[o..o + GROUP)}.
     */
    static void dot(WeightMatrix m, int group, Activation a, float[] out, int o) {
        MemorySegment s = m.data();
        long groupOff = (long) group * GROUP * m.rowBytes();
        int blocks = m.cols() / 32;
        int[] x = a.q4Pairs;
        int[] off = a.q4Offsets;
        float[] qd = a.q8Scale;
        for (int v = 0; v < GROUP / VL; v++) {
            FloatVector z = FloatVector.zero(F);
            FloatVector a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z;
            for (int b = 0; b < blocks; b++) {
                long run = groupOff + (long) b * GROUP_BLOCK;
                // The rows' d, as Float.float16ToFloat converts them (the helper is inlined here: measured no slower
                // than InterleavedQ8_0's written-out steps, one core in cache).
                FloatVector d = Interleaved.halvesToFloats((IntVector) ShortVector.fromMemorySegment(H, s, run + 2L * v * VL, LE)
                        .convertShape(VectorOperators.S2I, I, 0));
                FloatVector scale = d.mul(qd[b]);
                // Lanes 2P and 2P + 1, written out per P: the accumulators must be locals for C2 to keep them in
                // registers. Each 16-bit half: weights k, k + 1 (low nibbles), 16 + k, 17 + k (high), k = 2i.
                long w = run + 32 + v * VL * 4L;
                int p = b * 16;
                IntVector g = IntVector.fromMemorySegment(I, s, w, LE);
                IntVector q = g.and(NIBBLE).reinterpretAsShorts().mul(IntVector.broadcast(I, x[p]).reinterpretAsShorts())
                        .add(g.lanewise(VectorOperators.LSHR, 8).and(NIBBLE).reinterpretAsShorts().mul(IntVector.broadcast(I, x[p + 1]).reinterpretAsShorts()))
                        .add(g.lanewise(VectorOperators.LSHR, 4).and(NIBBLE).reinterpretAsShorts().mul(IntVector.broadcast(I, x[p + 8]).reinterpretAsShorts()))
                        .add(g.lanewise(VectorOperators.LSHR, 12).and(NIBBLE).reinterpretAsShorts().mul(IntVector.broadcast(I, x[p + 9]).reinterpretAsShorts()))
                        .sub(IntVector.broadcast(I, off[b * 4]).reinterpretAsShorts()).reinterpretAsInts();
                a0 = ((FloatVector) q.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0)).fma(scale, a0);
                a1 = ((FloatVector) q.lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0)).fma(scale, a1);
                g = IntVector.fromMemorySegment(I, s, w + 64, LE);
                q = g.and(NIBBLE).reinterpretAsShorts().mul(IntVector.broadcast(I, x[p + 2]).reinterpretAsShorts())
                        .add(g.lanewise(VectorOperators.LSHR, 8).and(NIBBLE).reinterpretAsShorts().mul(IntVector.broadcast(I, x[p + 3]).reinterpretAsShorts()))
                        .add(g.lanewise(VectorOperators.LSHR, 4).and(NIBBLE).reinterpretAsShorts().mul(IntVector.broadcast(I, x[p + 10]).reinterpretAsShorts()))
                        .add(g.lanewise(VectorOperators.LSHR, 12).and(NIBBLE).reinterpretAsShorts().mul(IntVector.broadcast(I, x[p + 11]).reinterpretAsShorts()))
                        .sub(IntVector.broadcast(I, off[b * 4 + 1]).reinterpretAsShorts()).reinterpretAsInts();
                a2 = ((FloatVector) q.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0)).fma(scale, a2);
                a3 = ((FloatVector) q.lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0)).fma(scale, a3);
                g = IntVector.fromMemorySegment(I, s, w + 128, LE);
                q = g.and(NIBBLE).reinterpretAsShorts().mul(IntVector.broadcast(I, x[p + 4]).reinterpretAsShorts())
                        .add(g.lanewise(VectorOperators.LSHR, 8).and(NIBBLE).reinterpretAsShorts().mul(IntVector.broadcast(I, x[p + 5]).reinterpretAsShorts()))
                        .add(g.lanewise(VectorOperators.LSHR, 4).and(NIBBLE).reinterpretAsShorts().mul(IntVector.broadcast(I, x[p + 12]).reinterpretAsShorts()))
                        .add(g.lanewise(VectorOperators.LSHR, 12).and(NIBBLE).reinterpretAsShorts().mul(IntVector.broadcast(I, x[p + 13]).reinterpretAsShorts()))
                        .sub(IntVector.broadcast(I, off[b * 4 + 2]).reinterpretAsShorts()).reinterpretAsInts();
                a4 = ((FloatVector) q.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0)).fma(scale, a4);
                a5 = ((FloatVector) q.lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0)).fma(scale, a5);
                g = IntVector.fromMemorySegment(I, s, w + 192, LE);
                q = g.and(NIBBLE).reinterpretAsShorts().mul(IntVector.broadcast(I, x[p + 6]).reinterpretAsShorts())
                        .add(g.lanewise(VectorOperators.LSHR, 8).and(NIBBLE).reinterpretAsShorts().mul(IntVector.broadcast(I, x[p + 7]).reinterpretAsShorts()))
                        .add(g.lanewise(VectorOperators.LSHR, 4).and(NIBBLE).reinterpretAsShorts().mul(IntVector.broadcast(I, x[p + 14]).reinterpretAsShorts()))
                        .add(g.lanewise(VectorOperators.LSHR, 12).and(NIBBLE).reinterpretAsShorts().mul(IntVector.broadcast(I, x[p + 15]).reinterpretAsShorts()))
                        .sub(IntVector.broadcast(I, off[b * 4 + 3]).reinterpretAsShorts()).reinterpretAsInts();
                a6 = ((FloatVector) q.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0)).fma(scale, a6);
                a7 = ((FloatVector) q.lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0)).fma(scale, a7);
            }
            // Dot.sum8's order: 0 + lane 0 + lane 1 + ... + lane 7.
            z.add(a0).add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).intoArray(out, o + v * VL);
        }
    }
}
