package moed.kernels;

import static jdk.incubator.vector.VectorOperators.ADD;
import static jdk.incubator.vector.VectorOperators.LT;
import static jdk.incubator.vector.VectorOperators.NE;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * IQ3_S's dot product at 512 bits by {@link GridPlanes}, one block at a time: its 64 grid points of four weights,
 * four planes, as {@link IQ3XXSPlanes} but with a 512-point grid (the ninth index bit in qh, one bit per point) and
 * the signs stored as bytes (one per two points: bits 0-3 the first point's, 4-7 the second's). A first pass over
 * the row ({@link #firstPass}) leaves per point its sign byte and ninth bit, and the scales 1 + 2s per 16 weights.
 * The activation: {@link Activation#q8kPlanes4}.
 */
final class IQ3SPlanes extends PlaneKernel {
    private static final VectorSpecies<Byte> B = GridPlanes.B;
    private static final VectorSpecies<Short> S = GridPlanes.S;
    private static final ByteOrder LE = GridPlanes.LE;
    private static final int INDICES = 2;
    private static final int BLOCK_BYTES = 110;
    /** The last 64 bytes of a block: the end of its indices, qh (at 20), the sign bytes (at 28), the scales (at 60). */
    private static final int TAIL = 46;
    private static final int SCALES = 106;
    private static final byte[] GRID_PLANES = GridPlanes.planes(IQGrids.IQ3S);
    /** Plane j's sign bit at [64 j, 64 j + 64): bit j for the even points, bit j + 4 for the odd. */
    private static final byte[] PLANE_SIGN_BITS = new byte[4 * 64];
    /** Lane p: the tail's byte with point p's signs. */
    private static final ByteVector SIGN_BYTE;
    /** Lane p: the tail's qh byte with point p's ninth index bit, and that bit. */
    private static final ByteVector NINTH_BYTE;
    private static final ByteVector NINTH_BIT;
    private static final VarHandle INTS = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    /** Per block in the first pass's scratch: 64 bytes of signs, 64 of ninth bits, 16 int scales. */
    private static final int SCRATCH_PER_BLOCK = 192;

    static {
        byte[] signByte = new byte[64];
        byte[] ninthByte = new byte[64];
        byte[] ninthBit = new byte[64];
        for (int p = 0; p < 64; p++) {
            signByte[p] = (byte) (28 + p / 2);
            ninthByte[p] = (byte) (20 + p / 8);
            ninthBit[p] = (byte) (1 << (p % 8));
            for (int j = 0; j < 4; j++) {
                PLANE_SIGN_BITS[64 * j + p] = (byte) (1 << (j + 4 * (p % 2)));
            }
        }
        SIGN_BYTE = ByteVector.fromArray(B, signByte, 0);
        NINTH_BYTE = ByteVector.fromArray(B, ninthByte, 0);
        NINTH_BIT = ByteVector.fromArray(B, ninthBit, 0);
    }

    /** The kernel. */
    static final IQ3SPlanes KERNEL = new IQ3SPlanes();

    private IQ3SPlanes() {
        super(Activation.Form.Q8_K_PLANES4, 1, SCRATCH_PER_BLOCK);
    }

    /**
     * The first pass over a row of {@code blocks} blocks into {@code out}, {@link #SCRATCH_PER_BLOCK} bytes a block:
     * each point's sign byte, its ninth index bit (nonzero when set), then per 16 weights the scale 1 + 2s as an int.
     * A pass of its own so that {@link #dots} stays within C2's inlining budget (see {@link GridPlanes}).
     */
    @Override
    void firstPass(MemorySegment s, long off, int blocks, byte[] out) {
        for (int b = 0; b < blocks; b++) {
            long bo = off + (long) b * BLOCK_BYTES;
            int at = SCRATCH_PER_BLOCK * b;
            ByteVector tail = ByteVector.fromMemorySegment(B, s, bo + TAIL, LE);
            SIGN_BYTE.selectFrom(tail).intoArray(out, at);
            NINTH_BYTE.selectFrom(tail).and(NINTH_BIT).intoArray(out, at + 64);
            for (int ib = 0; ib < 8; ib++) {
                int sc = s.get(ValueLayout.JAVA_BYTE, bo + SCALES + ib / 2) & 0xFF;
                int scale = 1 + 2 * (ib % 2 == 0 ? sc & 0xF : sc >>> 4);
                INTS.set(out, at + 128 + 8 * ib, scale);
                INTS.set(out, at + 132 + 8 * ib, scale);
            }
        }
    }

    /**
     * The integer dots of the {@code blocks} blocks of the row at {@code off} into {@code dots}, against the
     * activation's {@code planes}, with the first pass's {@code scratch}. The row in one method, one compilation, too
     * large to be inlined into its caller.
     */
    @Override
    void dots(MemorySegment s, long off, short[] planes, int blocks, byte[] scratch, int[] dots) {
        for (int b = 0; b < blocks; b++) {
            long bo = off + (long) b * BLOCK_BYTES;
            int at = SCRATCH_PER_BLOCK * b;
            ByteVector index = ByteVector.fromMemorySegment(B, s, bo + INDICES, LE);
            VectorMask<Byte> bit7 = index.compare(LT, (byte) 0);
            VectorMask<Byte> bit8 = ByteVector.fromArray(B, scratch, at + 64).compare(NE, (byte) 0);
            ByteVector signs = ByteVector.fromArray(B, scratch, at);
            ShortVector even = ShortVector.zero(S);
            ShortVector odd = even;
            for (int j = 0; j < 4; j++) { // |sum| <= 4 * 15 * 127: far within 16 bits
                ByteVector magnitude = GridPlanes.lookup(index, bit7, GRID_PLANES, 512 * j)
                        .blend(GridPlanes.lookup(index, bit7, GRID_PLANES, 512 * j + 256), bit8);
                VectorMask<Byte> minus = signs.and(ByteVector.fromArray(B, PLANE_SIGN_BITS, 64 * j)).compare(NE, (byte) 0);
                ShortVector w = magnitude.blend(magnitude.neg(), minus).reinterpretAsShorts();
                int ao = 256 * b + 64 * j;
                even = even.add(GridPlanes.even(w).mul(ShortVector.fromArray(S, planes, ao)));
                odd = odd.add(GridPlanes.odd(w).mul(ShortVector.fromArray(S, planes, ao + 32)));
            }
            IntVector scales = ByteVector.fromArray(B, scratch, at + 128).reinterpretAsInts();
            dots[b] = Int16Dot.pairs(even).add(Int16Dot.pairs(odd)).mul(scales).reduceLanes(ADD);
        }
    }
}
