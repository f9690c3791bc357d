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
 * Decode's mat-vec over Q8_0 rows in {@link Interleaved}'s layout, rows as vector lanes. The per-row kernel
 * ({@link Block32Dots#q8_0}) keeps eight lanes per block, lane i the sum of weights 2i, 2i + 1, 16 + 2i and 17 + 2i
 * times their activations, each scaled by the block's two scales into its own accumulator, and adds the eight at the
 * end; here accumulator i is a vector over the rows and every step of that arithmetic happens lane for lane: the same
 * bits. The layout stores lane i's weights as two runs of byte pairs, (2i, 16 + 2i) and (2i + 1, 17 + 2i) of every
 * row, so one sign-extending widening (a single instruction) puts a row's pair in the two 16-bit halves of its 32-bit
 * lane, facing a broadcast pair of activation integers ({@link Activation#q8Pairs}); a half sums two products of at
 * most 128 * 127 (below 2^15).
 *
 * <p>Why pairs of bytes and not ints: with a row's four weights in one int, the sign extension of its bytes took three
 * 16-bit shifts, which C2 emits with the count in a register (two micro-ops each on Intel): the group kernel ran at
 * 21-22 GFLOP/s with rows in cache (one core, Sapphire Rapids), with the widening 30-35.
 */
final class InterleavedQ8_0 {
    private static final int GROUP = Interleaved.GROUP;
    /** Bytes of one group's block: sixteen halves, then eight lanes' byte pairs (see {@link Interleaved#position}). */
    private static final int GROUP_BLOCK = GROUP * 34;
    private static final VectorSpecies<Float> F = Dot.F;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_MAX.withShape(F.vectorShape());
    private static final int VL = F.length();
    private static final VectorSpecies<Short> S = ShortVector.SPECIES_MAX.withShape(F.vectorShape());
    /** VL halves (half a float vector's bits). */
    private static final VectorSpecies<Short> H = ShortVector.SPECIES_MAX.withShape(
            jdk.incubator.vector.VectorShape.forBitSize(F.vectorBitSize() / 2));
    /** 2 * VL bytes: one byte pair of each of VL rows, which widen to a short vector. */
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_MAX.withShape(H.vectorShape());
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
                // The eight lanes written out: the accumulators must be locals for C2 to keep them in registers (an
                // array of vectors, or a helper taking one, boxes them). Lane i: the rows' byte pairs (2i, 16 + 2i)
                // and (2i + 1, 17 + 2i), each widened to a row's two 16-bit halves, against their activation pairs.
                long w = run + 32 + v * VL * 2L;
                IntVector p;
                p = ((ShortVector) ByteVector.fromMemorySegment(B, s, w + 0, LE).convertShape(VectorOperators.B2S, S, 0))
                        .mul(IntVector.broadcast(I, x[b * 16 + 0]).reinterpretAsShorts())
                        .add(((ShortVector) ByteVector.fromMemorySegment(B, s, w + 32, LE).convertShape(VectorOperators.B2S, S, 0))
                                .mul(IntVector.broadcast(I, x[b * 16 + 1]).reinterpretAsShorts()))
                        .reinterpretAsInts();
                a0 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                        .convert(VectorOperators.I2F, 0)).fma(scale, a0);
                p = ((ShortVector) ByteVector.fromMemorySegment(B, s, w + 64, LE).convertShape(VectorOperators.B2S, S, 0))
                        .mul(IntVector.broadcast(I, x[b * 16 + 2]).reinterpretAsShorts())
                        .add(((ShortVector) ByteVector.fromMemorySegment(B, s, w + 96, LE).convertShape(VectorOperators.B2S, S, 0))
                                .mul(IntVector.broadcast(I, x[b * 16 + 3]).reinterpretAsShorts()))
                        .reinterpretAsInts();
                a1 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                        .convert(VectorOperators.I2F, 0)).fma(scale, a1);
                p = ((ShortVector) ByteVector.fromMemorySegment(B, s, w + 128, LE).convertShape(VectorOperators.B2S, S, 0))
                        .mul(IntVector.broadcast(I, x[b * 16 + 4]).reinterpretAsShorts())
                        .add(((ShortVector) ByteVector.fromMemorySegment(B, s, w + 160, LE).convertShape(VectorOperators.B2S, S, 0))
                                .mul(IntVector.broadcast(I, x[b * 16 + 5]).reinterpretAsShorts()))
                        .reinterpretAsInts();
                a2 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                        .convert(VectorOperators.I2F, 0)).fma(scale, a2);
                p = ((ShortVector) ByteVector.fromMemorySegment(B, s, w + 192, LE).convertShape(VectorOperators.B2S, S, 0))
                        .mul(IntVector.broadcast(I, x[b * 16 + 6]).reinterpretAsShorts())
                        .add(((ShortVector) ByteVector.fromMemorySegment(B, s, w + 224, LE).convertShape(VectorOperators.B2S, S, 0))
                                .mul(IntVector.broadcast(I, x[b * 16 + 7]).reinterpretAsShorts()))
                        .reinterpretAsInts();
                a3 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                        .convert(VectorOperators.I2F, 0)).fma(scale, a3);
                p = ((ShortVector) ByteVector.fromMemorySegment(B, s, w + 256, LE).convertShape(VectorOperators.B2S, S, 0))
                        .mul(IntVector.broadcast(I, x[b * 16 + 8]).reinterpretAsShorts())
                        .add(((ShortVector) ByteVector.fromMemorySegment(B, s, w + 288, LE).convertShape(VectorOperators.B2S, S, 0))
                                .mul(IntVector.broadcast(I, x[b * 16 + 9]).reinterpretAsShorts()))
                        .reinterpretAsInts();
                a4 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                        .convert(VectorOperators.I2F, 0)).fma(scale, a4);
                p = ((ShortVector) ByteVector.fromMemorySegment(B, s, w + 320, LE).convertShape(VectorOperators.B2S, S, 0))
                        .mul(IntVector.broadcast(I, x[b * 16 + 10]).reinterpretAsShorts())
                        .add(((ShortVector) ByteVector.fromMemorySegment(B, s, w + 352, LE).convertShape(VectorOperators.B2S, S, 0))
                                .mul(IntVector.broadcast(I, x[b * 16 + 11]).reinterpretAsShorts()))
                        .reinterpretAsInts();
                a5 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                        .convert(VectorOperators.I2F, 0)).fma(scale, a5);
                p = ((ShortVector) ByteVector.fromMemorySegment(B, s, w + 384, LE).convertShape(VectorOperators.B2S, S, 0))
                        .mul(IntVector.broadcast(I, x[b * 16 + 12]).reinterpretAsShorts())
                        .add(((ShortVector) ByteVector.fromMemorySegment(B, s, w + 416, LE).convertShape(VectorOperators.B2S, S, 0))
                                .mul(IntVector.broadcast(I, x[b * 16 + 13]).reinterpretAsShorts()))
                        .reinterpretAsInts();
                a6 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                        .convert(VectorOperators.I2F, 0)).fma(scale, a6);
                p = ((ShortVector) ByteVector.fromMemorySegment(B, s, w + 448, LE).convertShape(VectorOperators.B2S, S, 0))
                        .mul(IntVector.broadcast(I, x[b * 16 + 14]).reinterpretAsShorts())
                        .add(((ShortVector) ByteVector.fromMemorySegment(B, s, w + 480, LE).convertShape(VectorOperators.B2S, S, 0))
                                .mul(IntVector.broadcast(I, x[b * 16 + 15]).reinterpretAsShorts()))
                        .reinterpretAsInts();
                a7 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                        .convert(VectorOperators.I2F, 0)).fma(scale, a7);
            }
            // Dot.sum8's order: 0 + lane 0 + lane 1 + ... + lane 7.
            z.add(a0).add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).intoArray(out, o + v * VL);
        }
    }
}
