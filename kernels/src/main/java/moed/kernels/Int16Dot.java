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
 * The integer building blocks of the quantized kernels, as llama.cpp's AVX2 loops use them: weights widened to
 * 16-bit lanes, multiplied by 16-bit integer activations, adjacent products added into 32-bit lanes (what
 * {@code pmaddwd} does in one instruction; the Vector API has no such operator, so two shifts and an add).
 * Against widening every weight to float and using FMAs on float activations, this does about a third fewer
 * operations per weight, which is what counts: the quantized loops are compute-bound on one core.
 *
 * <p>Callers keep every product and every sum of two within 16 bits (|w| <= 128 and |a| <= 127 gives 32,512).
 * Species are fixed at 256 bits (16 shorts, 8 ints); {@link Dot#row} only calls in when the platform has them.
 */
final class Int16Dot {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_256;
    static final VectorSpecies<Short> S = ShortVector.SPECIES_256;
    static final VectorSpecies<Integer> I = IntVector.SPECIES_256;
    static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private Int16Dot() {
    }

    /** 16 signed bytes widened to 16-bit lanes. */
    static ShortVector widen(MemorySegment s, long off) {
        return (ShortVector) ByteVector.fromMemorySegment(B16, s, off, LE).convertShape(VectorOperators.B2S, S, 0);
    }

    /** Adjacent 16-bit lanes added into eight 32-bit lanes. */
    static IntVector pairs(ShortVector p) {
        IntVector v = p.reinterpretAsInts();
        return v.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(v.lanewise(VectorOperators.ASHR, 16));
    }

    /** w0 . q[o..o+16) + w1 . q[o+16..o+32) in eight int lanes. */
    static IntVector dot32(ShortVector w0, ShortVector w1, short[] q, int o) {
        return pairs(w0.mul(ShortVector.fromArray(S, q, o)).add(w1.mul(ShortVector.fromArray(S, q, o + 16))));
    }

    /** acc + float(blockSum) * scale. */
    static FloatVector scaled(IntVector blockSum, float scale, FloatVector acc) {
        return ((FloatVector) blockSum.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, scale), acc);
    }
}
