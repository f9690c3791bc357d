package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Decode's mat-vec over Q8_0 rows in {@link Interleaved}'s layout, rows as vector lanes. The per-row kernel
 * ({@link Block32Dots#q8_0}) keeps eight lanes per block, lane i the sum of weights 2i, 2i + 1, 16 + 2i and 17 + 2i
 * times their activations, each scaled by the block's two scales into its own accumulator, and adds the eight at the
 * end; the layout stores exactly those four weights of a row in one int, so here accumulator i is a vector over the
 * rows and every step of that arithmetic happens lane for lane: the same bits. A row's int, seen as two 16-bit
 * halves, holds weights (2i, 16 + 2i) in its low bytes and (2i + 1, 17 + 2i) in its high bytes; each faces a
 * broadcast pair of activation integers ({@link Activation#q8Pairs}), and a half sums two products of at most
 * 128 * 127 (below 2^15).
 */
final class InterleavedQ8_0 {
    private static final int GROUP = Interleaved.GROUP;
    /** Bytes of one group's block: sixteen halves, then eight ints per row. */
    private static final int GROUP_BLOCK = GROUP * 34;
    private static final VectorSpecies<Float> F = Dot.F;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_MAX.withShape(F.vectorShape());
    private static final int VL = F.length();
    /** VL halves (half a float vector's bits). */
    private static final VectorSpecies<Short> H = ShortVector.SPECIES_MAX.withShape(
            jdk.incubator.vector.VectorShape.forBitSize(F.vectorBitSize() / 2));
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private InterleavedQ8_0() {
    }

    /** Rows {@code group * GROUP ..} of interleaved m against one activation into {@code out[o..o + GROUP)}. */
    static void dot(WeightMatrix m, int group, Activation a, float[] out, int o) {
        MemorySegment s = m.data();
        long groupOff = (long) group * GROUP * m.rowBytes();
        int blocks = m.cols() / 32;
        int[] x = a.q8Pairs;
        float[] qd = a.q8Scale;
        for (int v = 0; v < GROUP / VL; v++) {
            FloatVector z = FloatVector.zero(F);
            FloatVector a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z;
            for (int b = 0; b < blocks; b++) {
                long run = groupOff + (long) b * GROUP_BLOCK;
                // The rows' d, halves to floats as Float.float16ToFloat does (the Vector API has no half conversion):
                // exponent and mantissa moved into place and scaled by 2^112 (exact, subnormals included), all-ones
                // exponents kept as infinities and NaNs, the sign put back.
                IntVector h = ((IntVector) ShortVector.fromMemorySegment(H, s, run + 2L * v * VL, LE)
                        .convertShape(VectorOperators.S2I, I, 0));
                IntVector bits = h.and(0x7FFF).lanewise(VectorOperators.LSHL, 13);
                FloatVector d = ((FloatVector) bits.reinterpretAsFloats()).mul(0x1p112f)
                        .blend(bits.or(0x7F800000).reinterpretAsFloats(), h.and(0x7FFF).compare(VectorOperators.GE, 0x7C00).cast(F));
                d = d.reinterpretAsInts().or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
                FloatVector scale = d.mul(qd[b]);
                // The eight ints written out: the accumulators must be locals for C2 to keep them in registers (an
                // array of vectors, or a helper taking one, boxes them).
                ShortVector g;
                IntVector p;
                g = IntVector.fromMemorySegment(I, s, run + 32 + (0 * GROUP + v * VL) * 4L, LE).reinterpretAsShorts();
                p = g.lanewise(VectorOperators.LSHL, 8).lanewise(VectorOperators.ASHR, 8).mul(IntVector.broadcast(I, x[b * 16 + 0]).reinterpretAsShorts())
                        .add(g.lanewise(VectorOperators.ASHR, 8).mul(IntVector.broadcast(I, x[b * 16 + 1]).reinterpretAsShorts()))
                        .reinterpretAsInts();
                a0 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                        .convert(VectorOperators.I2F, 0)).fma(scale, a0);
                g = IntVector.fromMemorySegment(I, s, run + 32 + (1 * GROUP + v * VL) * 4L, LE).reinterpretAsShorts();
                p = g.lanewise(VectorOperators.LSHL, 8).lanewise(VectorOperators.ASHR, 8).mul(IntVector.broadcast(I, x[b * 16 + 2]).reinterpretAsShorts())
                        .add(g.lanewise(VectorOperators.ASHR, 8).mul(IntVector.broadcast(I, x[b * 16 + 3]).reinterpretAsShorts()))
                        .reinterpretAsInts();
                a1 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                        .convert(VectorOperators.I2F, 0)).fma(scale, a1);
                g = IntVector.fromMemorySegment(I, s, run + 32 + (2 * GROUP + v * VL) * 4L, LE).reinterpretAsShorts();
                p = g.lanewise(VectorOperators.LSHL, 8).lanewise(VectorOperators.ASHR, 8).mul(IntVector.broadcast(I, x[b * 16 + 4]).reinterpretAsShorts())
                        .add(g.lanewise(VectorOperators.ASHR, 8).mul(IntVector.broadcast(I, x[b * 16 + 5]).reinterpretAsShorts()))
                        .reinterpretAsInts();
                a2 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                        .convert(VectorOperators.I2F, 0)).fma(scale, a2);
                g = IntVector.fromMemorySegment(I, s, run + 32 + (3 * GROUP + v * VL) * 4L, LE).reinterpretAsShorts();
                p = g.lanewise(VectorOperators.LSHL, 8).lanewise(VectorOperators.ASHR, 8).mul(IntVector.broadcast(I, x[b * 16 + 6]).reinterpretAsShorts())
                        .add(g.lanewise(VectorOperators.ASHR, 8).mul(IntVector.broadcast(I, x[b * 16 + 7]).reinterpretAsShorts()))
                        .reinterpretAsInts();
                a3 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                        .convert(VectorOperators.I2F, 0)).fma(scale, a3);
                g = IntVector.fromMemorySegment(I, s, run + 32 + (4 * GROUP + v * VL) * 4L, LE).reinterpretAsShorts();
                p = g.lanewise(VectorOperators.LSHL, 8).lanewise(VectorOperators.ASHR, 8).mul(IntVector.broadcast(I, x[b * 16 + 8]).reinterpretAsShorts())
                        .add(g.lanewise(VectorOperators.ASHR, 8).mul(IntVector.broadcast(I, x[b * 16 + 9]).reinterpretAsShorts()))
                        .reinterpretAsInts();
                a4 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                        .convert(VectorOperators.I2F, 0)).fma(scale, a4);
                g = IntVector.fromMemorySegment(I, s, run + 32 + (5 * GROUP + v * VL) * 4L, LE).reinterpretAsShorts();
                p = g.lanewise(VectorOperators.LSHL, 8).lanewise(VectorOperators.ASHR, 8).mul(IntVector.broadcast(I, x[b * 16 + 10]).reinterpretAsShorts())
                        .add(g.lanewise(VectorOperators.ASHR, 8).mul(IntVector.broadcast(I, x[b * 16 + 11]).reinterpretAsShorts()))
                        .reinterpretAsInts();
                a5 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                        .convert(VectorOperators.I2F, 0)).fma(scale, a5);
                g = IntVector.fromMemorySegment(I, s, run + 32 + (6 * GROUP + v * VL) * 4L, LE).reinterpretAsShorts();
                p = g.lanewise(VectorOperators.LSHL, 8).lanewise(VectorOperators.ASHR, 8).mul(IntVector.broadcast(I, x[b * 16 + 12]).reinterpretAsShorts())
                        .add(g.lanewise(VectorOperators.ASHR, 8).mul(IntVector.broadcast(I, x[b * 16 + 13]).reinterpretAsShorts()))
                        .reinterpretAsInts();
                a6 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                        .convert(VectorOperators.I2F, 0)).fma(scale, a6);
                g = IntVector.fromMemorySegment(I, s, run + 32 + (7 * GROUP + v * VL) * 4L, LE).reinterpretAsShorts();
                p = g.lanewise(VectorOperators.LSHL, 8).lanewise(VectorOperators.ASHR, 8).mul(IntVector.broadcast(I, x[b * 16 + 14]).reinterpretAsShorts())
                        .add(g.lanewise(VectorOperators.ASHR, 8).mul(IntVector.broadcast(I, x[b * 16 + 15]).reinterpretAsShorts()))
                        .reinterpretAsInts();
                a7 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                        .convert(VectorOperators.I2F, 0)).fma(scale, a7);
            }
            // Dot.sum8's order: 0 + lane 0 + lane 1 + ... + lane 7.
            z.add(a0).add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).intoArray(out, o + v * VL);
        }
    }
}
