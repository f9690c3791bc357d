package moed.kernels;

import static jdk.incubator.vector.VectorOperators.ADD;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.LT;
import static jdk.incubator.vector.VectorOperators.NE;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * IQ2_XS's dot product at 512 bits by {@link GridPlanes}, two blocks at a time: their 64 grid points of eight
 * weights, eight planes, as {@link IQ2XXSPlanes} but with a 512-point grid (a point is a 16-bit word: a 9-bit index
 * and a 7-bit sign index) and a scale per 16 weights. A first pass over the row ({@link #firstPass}) leaves per point
 * its eight signs and its index's ninth bit, and per 32 weights the scales of both halves. In 32-bit lanes, the
 * low 16 bits of the even and odd points' sums are the first half of a 32-weight sub-block (points 4k and 4k + 1),
 * the high 16 bits its second half, each times its scale 2s + 1. The activation: {@link Activation#q8kPlanes8}.
 */
final class IQ2XSPlanes extends PlaneKernel {
    private static final VectorSpecies<Byte> B = GridPlanes.B;
    private static final VectorSpecies<Short> S = GridPlanes.S;
    private static final VectorSpecies<Integer> I = GridPlanes.I;
    private static final ByteOrder LE = GridPlanes.LE;
    private static final int HEADER = 2;
    private static final int BLOCK_BYTES = 74;
    /** A block's eight scale bytes (two 4-bit scales each) follow its 64 bytes of points. */
    private static final int SCALES = 66;
    private static final byte[] GRID_PLANES = GridPlanes.planes(IQGrids.IQ2XS, 8);
    /** Per 7-bit sign index: its eight signs (bit j: weight j of the point is negative). */
    private static final byte[] SIGNS = new byte[128];
    /** Lane e: the low byte of point e's word in two blocks' points (the second block + 64). */
    private static final ByteVector LOW_BYTE;
    /** Lane e: the high byte of point e's word. */
    private static final ByteVector HIGH_BYTE;
    /** The first block's sub-blocks: 32-bit lanes 0-7. */
    private static final VectorMask<Integer> FIRST_BLOCK = VectorMask.fromLong(I, 0xFFL);
    /** Per pair in the first pass's scratch: 64 bytes of signs, 64 of ninth bits, 16 + 16 int scales. */
    private static final int SCRATCH_PER_PAIR = 256;

    static {
        for (int i = 0; i < 128; i++) {
            SIGNS[i] = (byte) IQGrids.ksigns(i);
        }
        byte[] low = new byte[64];
        byte[] high = new byte[64];
        for (int e = 0; e < 64; e++) {
            low[e] = (byte) (64 * (e / 32) + 2 * (e % 32));
            high[e] = (byte) (low[e] + 1);
        }
        LOW_BYTE = ByteVector.fromArray(B, low, 0);
        HIGH_BYTE = ByteVector.fromArray(B, high, 0);
    }

    /** The kernel. */
    static final IQ2XSPlanes KERNEL = new IQ2XSPlanes();

    private IQ2XSPlanes() {
        super(Activation.Form.Q8_K_PLANES8, 2, SCRATCH_PER_PAIR);
    }

    /**
     * The first pass over a row of {@code pairs} pairs of blocks into {@code out}, {@link #SCRATCH_PER_PAIR} bytes a
     * pair: each point's eight signs, its index's ninth bit (0 or 1), then the scales as {@link GridPlanes#halfScales}
     * writes them. A pass of its own so that {@link #dots} stays within C2's inlining
     * budget (see {@link GridPlanes}).
     */
    @Override
    void firstPass(MemorySegment s, long off, int pairs, byte[] out) {
        for (int p = 0; p < pairs; p++) {
            long bo = off + 2L * p * BLOCK_BYTES;
            ByteVector high = HIGH_BYTE.selectFrom(ByteVector.fromMemorySegment(B, s, bo + HEADER, LE),
                    ByteVector.fromMemorySegment(B, s, bo + BLOCK_BYTES + HEADER, LE));
            high.lanewise(LSHR, 1).selectFrom(ByteVector.fromArray(B, SIGNS, 0), ByteVector.fromArray(B, SIGNS, 64))
                    .intoArray(out, SCRATCH_PER_PAIR * p);
            high.and((byte) 1).intoArray(out, SCRATCH_PER_PAIR * p + 64);
            GridPlanes.halfScales(s, bo, BLOCK_BYTES, SCALES, out, SCRATCH_PER_PAIR * p + 128);
        }
    }

    /**
     * The integer dots of the first {@code 2 * pairs} blocks of the row at {@code off} into {@code dots}, against the
     * activation's {@code planes}, with the first pass's {@code scratch}. The row in one method, one compilation, too
     * large to be inlined into its caller.
     */
    @Override
    void dots(MemorySegment s, long off, short[] planes, int pairs, byte[] scratch, int[] dots) {
        for (int p = 0; p < pairs; p++) {
            long bo = off + 2L * p * BLOCK_BYTES;
            int at = SCRATCH_PER_PAIR * p;
            ByteVector index = LOW_BYTE.selectFrom(ByteVector.fromMemorySegment(B, s, bo + HEADER, LE),
                    ByteVector.fromMemorySegment(B, s, bo + BLOCK_BYTES + HEADER, LE));
            VectorMask<Byte> bit7 = index.compare(LT, (byte) 0);
            VectorMask<Byte> bit8 = ByteVector.fromArray(B, scratch, at + 64).compare(NE, (byte) 0);
            ByteVector signs = ByteVector.fromArray(B, scratch, at);
            IntVector subBlocks = IntVector.zero(I);
            for (int j0 = 0; j0 < 8; j0 += 4) { // four planes at a time, so that their sums stay within 16 bits
                ShortVector even = ShortVector.zero(S);
                ShortVector odd = even;
                for (int j = j0; j < j0 + 4; j++) {
                    ByteVector magnitude = GridPlanes.lookup(index, bit7, GRID_PLANES, 512 * j)
                            .blend(GridPlanes.lookup(index, bit7, GRID_PLANES, 512 * j + 256), bit8);
                    VectorMask<Byte> minus = signs.and((byte) (1 << j)).compare(NE, (byte) 0);
                    ShortVector w = magnitude.blend(magnitude.neg(), minus).reinterpretAsShorts();
                    int ao = 512 * p + 64 * j;
                    even = even.add(GridPlanes.even(w).mul(ShortVector.fromArray(S, planes, ao)));
                    odd = odd.add(GridPlanes.odd(w).mul(ShortVector.fromArray(S, planes, ao + 32)));
                }
                subBlocks = subBlocks.add(GridPlanes.halfScaled(even, odd, scratch, at + 128));
            }
            dots[2 * p] = subBlocks.reduceLanes(ADD, FIRST_BLOCK);
            dots[2 * p + 1] = subBlocks.reduceLanes(ADD) - dots[2 * p];
        }
    }
}
