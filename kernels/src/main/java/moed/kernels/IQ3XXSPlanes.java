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
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * IQ3_XXS's dot product at 512 bits by {@link GridPlanes}, one block at a time: its 64 grid points of four weights,
 * four planes. A 7-bit sign index covers two points (eight signs, {@link IQGrids#SIGNS7}): each point's eight signs
 * are looked up in a first pass over the row ({@link #firstPass}, a 128-entry table), and plane j negates where bit j (even points) or bit j + 4 (odd
 * points) is set. The activation: {@link Activation#q8kPlanes4} (per 256 values, four planes of 64 points). In
 * 32-bit lanes even plus odd points leave the sum of sixteen weights, half a sub-block; lanes 2k and 2k + 1 are
 * multiplied by sub-block k's scale 2s + 1, and the lanes added are the block's integer dot.
 */
final class IQ3XXSPlanes extends PlaneKernel {
    private static final VectorSpecies<Byte> B = GridPlanes.B;
    private static final VectorSpecies<Short> S = GridPlanes.S;
    private static final VectorSpecies<Integer> I = GridPlanes.I;
    private static final ByteOrder LE = GridPlanes.LE;
    /** The block's 64 grid indices start after its f16 scale. */
    private static final int INDICES = 2;
    private static final int BLOCK_BYTES = 98;
    /** The last 64 bytes of a block: the second half of its indices, then its eight sign-and-scale words. */
    private static final int TAIL = 34;
    private static final byte[] GRID_PLANES = GridPlanes.planes(IQGrids.IQ3XXS);
    /** Per 7-bit sign index: its eight signs (bit j: weight j of the two points is negative). */
    private static final byte[] SIGNS = new byte[128];
    /** Plane j's sign bit at [64 j, 64 j + 64): bit j for the even points, bit j + 4 for the odd. */
    private static final byte[] PLANE_SIGN_BITS = new byte[4 * 64];
    /** Lane p: the byte of the tail's sign indices (bytes 32-63) that holds point p's (one per two points). */
    private static final ByteVector PAIR_SIGNS;
    /** 32-bit lane k: the tail's int holding sub-block k / 2's word (ints 8-15). */
    private static final VectorShuffle<Integer> HALF_SUB_BLOCK_WORD;

    static {
        for (int i = 0; i < 128; i++) {
            SIGNS[i] = (byte) IQGrids.ksigns(i);
        }
        byte[] pair = new byte[64];
        for (int p = 0; p < 64; p++) {
            pair[p] = (byte) (32 + p / 2);
            for (int j = 0; j < 4; j++) {
                PLANE_SIGN_BITS[64 * j + p] = (byte) (1 << (j + 4 * (p % 2)));
            }
        }
        PAIR_SIGNS = ByteVector.fromArray(B, pair, 0);
        int[] word = new int[16];
        for (int k = 0; k < 16; k++) {
            word[k] = 8 + k / 2;
        }
        HALF_SUB_BLOCK_WORD = VectorShuffle.fromArray(I, word, 0);
    }

    /** The kernel. */
    static final IQ3XXSPlanes KERNEL = new IQ3XXSPlanes();

    private IQ3XXSPlanes() {
        super(Activation.Form.Q8_K_PLANES4, 1, 64);
    }

    /**
     * The first pass over a row of {@code blocks} blocks: each block's eight signs per point into
     * {@code signs[64 b, 64 b + 64)}, in point order, for {@link #dots}. A pass of its own so that {@link #dots} stays
     * within C2's inlining budget (see {@link GridPlanes}): with this in it, the last vector operations became real
     * calls, 50 against 18 ns a block.
     */
    @Override
    void firstPass(MemorySegment s, long off, int blocks, byte[] signs) {
        for (int b = 0; b < blocks; b++) {
            IntVector tail = ByteVector.fromMemorySegment(B, s, off + (long) b * BLOCK_BYTES + TAIL, LE).reinterpretAsInts();
            PAIR_SIGNS.selectFrom(GridPlanes.signIndices(tail)) // the words are ints 8-15
                    .selectFrom(ByteVector.fromArray(B, SIGNS, 0), ByteVector.fromArray(B, SIGNS, 64))
                    .intoArray(signs, 64 * b);
        }
    }

    /**
     * The integer dots of the {@code blocks} blocks of the row at {@code off} into {@code dots}, against the
     * activation's {@code planes}, their signs from {@link #firstPass}. The whole row in one method, one compilation, too
     * large to be inlined into its caller (with which it would again outgrow the budget).
     */
    @Override
    void dots(MemorySegment s, long off, short[] planes, int blocks, byte[] signBytes, int[] dots) {
        for (int b = 0; b < blocks; b++) {
            long bo = off + (long) b * BLOCK_BYTES;
            ByteVector index = ByteVector.fromMemorySegment(B, s, bo + INDICES, LE);
            VectorMask<Byte> upper = index.compare(LT, (byte) 0); // points 128-255
            ByteVector signs = ByteVector.fromArray(B, signBytes, 64 * b);
            ShortVector even = ShortVector.zero(S);
            ShortVector odd = even;
            for (int j = 0; j < 4; j++) { // |sum| <= 4 * 62 * 127, within 16 bits
                ByteVector magnitude = GridPlanes.lookup(index, upper, GRID_PLANES, 256 * j);
                VectorMask<Byte> minus = signs.and(ByteVector.fromArray(B, PLANE_SIGN_BITS, 64 * j)).compare(NE, (byte) 0);
                ShortVector w = magnitude.blend(magnitude.neg(), minus).reinterpretAsShorts();
                int ao = 256 * b + 64 * j;
                even = even.add(GridPlanes.even(w).mul(ShortVector.fromArray(S, planes, ao)));
                odd = odd.add(GridPlanes.odd(w).mul(ShortVector.fromArray(S, planes, ao + 32)));
            }
            IntVector words = ByteVector.fromMemorySegment(B, s, bo + TAIL, LE).reinterpretAsInts(); // ints 8-15
            IntVector scales = words.rearrange(HALF_SUB_BLOCK_WORD).lanewise(LSHR, 27).or(1); // 2s + 1
            dots[b] = Int16Dot.pairs(even).add(Int16Dot.pairs(odd)).mul(scales).reduceLanes(ADD);
        }
    }
}
