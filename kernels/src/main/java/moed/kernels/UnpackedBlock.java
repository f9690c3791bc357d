package moed.kernels;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * One 256-weight super-block decoded to small integers, the common form of the formats whose weights are not a
 * plain bit field ({@link UnpackedFormat}: grid points with signs): weight i is
 * {@code factor * scale[i / 16] * q[i]}, with q a signed byte and scale a small integer. Decoding is the format's scalar step (table lookups eight weights at a time); the dot product against
 * Q8_K activations is then one vector loop for every format ({@link #dot}), exact in integers, so its result is the
 * same at every vector width.
 *
 * <p>Per thread ({@link #get}); a format's dot product decodes a block into it and dots it at once.
 */
final class UnpackedBlock {
    private static final VectorSpecies<Short> S = Int16Dot.S;
    private static final VectorSpecies<Integer> I = Int16Dot.I;
    /** Bytes that widen to one short vector: 16 at 256 bits, 32 at 512. */
    private static final VectorSpecies<Byte> BS = Int16Dot.BS;
    private static final int SL = Int16Dot.SL;
    /** At 512 bits a short vector holds two 16-weight groups: int lanes 8-15 take the second group's scale. */
    private static final VectorMask<Integer> SECOND_GROUP = Int16Dot.WIDE ? VectorMask.fromLong(I, 0xFF00L) : null;
    /** Writes eight decoded weights at once. */
    static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final ThreadLocal<UnpackedBlock> PER_THREAD = ThreadLocal.withInitial(UnpackedBlock::new);

    /** The 256 weights' integers. */
    final byte[] q = new byte[256];
    /** Per 16 weights: the integer scale. */
    final int[] scale = new int[16];

    /** A row's signs (and scales) for the plane kernels' first pass; grown as rows need. */
    private byte[] scratch = new byte[0];
    /** A row's blocks' integer dots from a plane kernel; grown as rows need. */
    private int[] dots = new int[0];

    static UnpackedBlock get() {
        return PER_THREAD.get();
    }

    /** At least {@code bytes} of scratch for a plane kernel's first pass over a row ({@link PlaneKernel#firstPass}). */
    byte[] scratch(int bytes) {
        if (scratch.length < bytes) {
            scratch = new byte[bytes];
        }
        return scratch;
    }

    /** Room for the integer dots of a row of {@code blocks} blocks ({@link UnpackedFormat#fromIntegerDots}). */
    int[] dots(int blocks) {
        if (dots.length < blocks) {
            dots = new int[blocks];
        }
        return dots;
    }

    /** Eight weights at once: the bytes of {@code v}, lowest first, at q[at..at+8). */
    void put8(int at, long v) {
        LONGS.set(q, at, v);
    }

    /**
     * Sets the scales of the two 16-weight halves of the 32 weights from {@code 32 * group32} from a byte of two 4-bit
     * scales s (low nibble first) as 2s + 1: IQ2_XS and IQ2_S's d * (0.5 + s) / 4 with d / 8 taken out.
     */
    void oddScales(int group32, int twoNibbles) {
        scale[2 * group32] = 2 * (twoNibbles & 0xF) + 1;
        scale[2 * group32 + 1] = 2 * (twoNibbles >>> 4 & 0xF) + 1;
    }

    /** Sets the scale of the 32 weights from {@code 32 * group32}: two 16-weight groups. */
    void scale32(int group32, int s) {
        scale[2 * group32] = s;
        scale[2 * group32 + 1] = s;
    }

    /**
     * The integer dot of the block with the Q8_K integers x[xo..xo+256): sum over groups of scale * (q . x). Products
     * fit 16 bits (|q| <= 127, |x| <= 127); each group's sum times its scale is summed in 32-bit lanes, far from
     * overflow for the scales the formats have (at most 63).
     */
    int dot(short[] x, int xo) {
        IntVector acc = IntVector.zero(I);
        for (int g = 0; g < 16; g += SL / 16) {
            ShortVector w = (ShortVector) ByteVector.fromArray(BS, q, 16 * g).convertShape(VectorOperators.B2S, S, 0);
            IntVector p = w.mul(ShortVector.fromArray(S, x, xo + 16 * g)).reinterpretAsInts();
            IntVector pairs = p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16));
            IntVector sc = IntVector.broadcast(I, scale[g]);
            if (SECOND_GROUP != null) {
                sc = sc.blend(scale[g + 1], SECOND_GROUP);
            }
            acc = acc.add(pairs.mul(sc));
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }
}
