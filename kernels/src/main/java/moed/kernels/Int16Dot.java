package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The integer building blocks of the quantized kernels, as llama.cpp's AVX2 loops use them: weights widened to
 * 16-bit lanes, multiplied by 16-bit integer activations, adjacent products added into 32-bit lanes (what
 * {@code pmaddwd} does in one instruction; the Vector API has no such operator, so two shifts and an add).
 * Against widening every weight to float and using FMAs on float activations, this does about a third fewer
 * operations per weight, which is what counts: the quantized loops are compute-bound on one core.
 *
 * <p>Callers keep every product and every sum of two within 16 bits (|w| <= 128 and |a| <= 127 gives 32,512).
 *
 * <p>Width: the species follow {@link Dot#F} (one width per JVM, see {@link Dot#floatSpecies}), so at 512 bits a
 * short vector holds 32 weights. The 32-weight-block formats other than Q8_0 still widen 16 weights at a time
 * ({@link #widen}): at 512 bits those sit in the lower 16 lanes with zeros above, so {@link #dot32} leaves the block's
 * sums in lanes 0-7 exactly as at 256 bits (lanes 8-15 zero) and results are bit-identical at both widths. Q8_0 at
 * 512 bits widens its whole block and folds the two halves' sums into the same eight lanes
 * ({@link Block32Dots#q8_0}). The K-quant kernels use the full width ({@link #widenAll}); their sums are exact
 * integers, so lane layout cannot change a result.
 */
final class Int16Dot {
    static final VectorSpecies<Float> F = Dot.F;
    static final VectorSpecies<Short> S = ShortVector.SPECIES_MAX.withShape(F.vectorShape());
    static final VectorSpecies<Integer> I = IntVector.SPECIES_MAX.withShape(F.vectorShape());
    /** One 32-weight block's 16 packed bytes (or half of a Q8_0 block). */
    static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    /** Bytes that widen to a full short vector: 16 at 256 bits, 32 at 512. */
    static final VectorSpecies<Byte> BS = ByteVector.SPECIES_MAX.withShape(VectorShape.forBitSize(Math.max(64, F.vectorBitSize() / 2)));
    /** Weights per short vector: 16, or 32 at 512 bits. */
    static final int SL = S.length();
    /** True at 512 bits: one short vector holds a whole 32-weight (sub-)block. */
    static final boolean WIDE = SL >= 32;
    /**
     * Activation integers a 32-weight-block kernel may read past the vector's end: at 512 bits {@link #dot32} loads
     * 32 lanes from the block's second half (the upper 16 meet zero weights). Activation arrays carry this padding.
     */
    static final int READ_PAST = 32;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private Int16Dot() {
    }

    /** 16 signed bytes widened to 16-bit lanes (the lower 16 lanes; zeros above at 512 bits). */
    static ShortVector widen(MemorySegment s, long off) {
        return (ShortVector) ByteVector.fromMemorySegment(B16, s, off, LE).convertShape(VectorOperators.B2S, S, 0);
    }

    /** {@link #SL} signed bytes widened to a full short vector. */
    static ShortVector widenAll(MemorySegment s, long off) {
        return (ShortVector) ByteVector.fromMemorySegment(BS, s, off, LE).convertShape(VectorOperators.B2S, S, 0);
    }

    /** Adjacent 16-bit lanes added into 32-bit lanes. */
    static IntVector pairs(ShortVector p) {
        IntVector v = p.reinterpretAsInts();
        return v.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(v.lanewise(VectorOperators.ASHR, 16));
    }

    /**
     * w0 . q[o..o+16) + w1 . q[o+16..o+32) with w0, w1 from {@link #widen}: lane i holds weights 2i, 2i+1, 16+2i and
     * 17+2i (i < 8; any lanes above are zero, since the weights there are).
     */
    static IntVector dot32(ShortVector w0, ShortVector w1, short[] q, int o) {
        return pairs(w0.mul(ShortVector.fromArray(S, q, o)).add(w1.mul(ShortVector.fromArray(S, q, o + 16))));
    }

    /** acc + float(blockSum) * scale. */
    static FloatVector scaled(IntVector blockSum, float scale, FloatVector acc) {
        return ((FloatVector) blockSum.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, scale), acc);
    }
}
