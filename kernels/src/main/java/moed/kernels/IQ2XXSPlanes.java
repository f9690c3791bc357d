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
 * IQ2_XXS's dot product at 512 bits by {@link GridPlanes}, two blocks at a time: their 64 grid points of eight
 * weights, eight planes. Each point's signs come as a 7-bit index into the eight signs of {@link IQGrids#SIGNS7},
 * looked up in a first pass over the row ({@link #firstPass}, with the sub-blocks' scales), and plane j negates where
 * bit j is set. The activation: {@link Activation#q8kPlanes8} (per 512 values, eight planes of 64 points). In 32-bit
 * lanes even plus odd points leave the sum of sub-block k (four points, 32 weights)
 * in lane k, times its scale 2s + 1.
 */
final class IQ2XXSPlanes extends PlaneKernel {
    private static final VectorSpecies<Byte> B = GridPlanes.B;
    private static final VectorSpecies<Short> S = GridPlanes.S;
    private static final VectorSpecies<Integer> I = GridPlanes.I;
    private static final ByteOrder LE = GridPlanes.LE;
    /** Bytes of a block before its 64 bytes of grid words (the f16 scale). */
    private static final int HEADER = 2;
    private static final int BLOCK_BYTES = 66;
    private static final byte[] GRID_PLANES = GridPlanes.planes(IQGrids.IQ2XXS, 8);
    /** Per 7-bit sign index: its eight signs (bit j: weight j of the point is negative). */
    private static final byte[] SIGNS = new byte[128];
    /** Lane e: where point e's grid index sits in two blocks' grid words (bytes 0-3 of each 8, the second block + 64). */
    private static final ByteVector POINT_INDEX;
    /** Lane k: where sub-block k's sign-and-scale word sits in two blocks' grid words as ints (odd ints). */
    private static final IntVector SUB_BLOCK_WORD;
    /** The first block's sub-blocks: 32-bit lanes 0-7. */
    private static final VectorMask<Integer> FIRST_BLOCK = VectorMask.fromLong(I, 0xFFL);

    static {
        for (int i = 0; i < 128; i++) {
            SIGNS[i] = (byte) IQGrids.ksigns(i);
        }
        byte[] point = new byte[64];
        for (int e = 0; e < 64; e++) {
            point[e] = (byte) (64 * (e / 32) + 8 * (e % 32 / 4) + e % 4);
        }
        POINT_INDEX = ByteVector.fromArray(B, point, 0);
        int[] word = new int[16];
        for (int k = 0; k < 16; k++) {
            word[k] = 16 * (k / 8) + 2 * (k % 8) + 1;
        }
        SUB_BLOCK_WORD = IntVector.fromArray(I, word, 0);
    }

    /** The kernel. */
    static final IQ2XXSPlanes KERNEL = new IQ2XXSPlanes();

    private IQ2XXSPlanes() {
        super(Activation.Form.Q8_K_PLANES8, 2, 128);
    }

    /**
     * The first pass over a row of {@code pairs} pairs of blocks: per pair at {@code [128 p, 128 p + 128)} of
     * {@code out}, each point's eight signs (bit j: weight j is negative; point order) and then the sixteen
     * sub-blocks' scales 2s + 1 as ints. A pass of its own, as {@link IQ3XXSPlanes#firstPass}, so that {@link #dots} stays
     * within C2's inlining budget.
     */
    @Override
    void firstPass(MemorySegment s, long off, int pairs, byte[] out) {
        for (int p = 0; p < pairs; p++) {
            long bo = off + 2L * p * BLOCK_BYTES;
            IntVector q0 = ByteVector.fromMemorySegment(B, s, bo + HEADER, LE).reinterpretAsInts();
            IntVector q1 = ByteVector.fromMemorySegment(B, s, bo + BLOCK_BYTES + HEADER, LE).reinterpretAsInts();
            IntVector words = SUB_BLOCK_WORD.selectFrom(q0, q1);
            GridPlanes.signIndices(words).selectFrom(ByteVector.fromArray(B, SIGNS, 0), ByteVector.fromArray(B, SIGNS, 64))
                    .intoArray(out, 128 * p);
            words.lanewise(LSHR, 27).or(1).reinterpretAsBytes().intoArray(out, 128 * p + 64); // 2s + 1 (bit 27: a sign)
        }
    }

    /**
     * The integer dots of the first {@code 2 * pairs} blocks of the row at {@code off} into {@code dots}, against the
     * activation's {@code planes}, their signs and scales from {@link #firstPass}. The row in one method, one
     * compilation, too large to be inlined into its caller.
     */
    @Override
    void dots(MemorySegment s, long off, short[] planes, int pairs, byte[] signsAndScales, int[] dots) {
        for (int p = 0; p < pairs; p++) {
            long bo = off + 2L * p * BLOCK_BYTES;
            ByteVector index = POINT_INDEX.selectFrom(ByteVector.fromMemorySegment(B, s, bo + HEADER, LE),
                    ByteVector.fromMemorySegment(B, s, bo + BLOCK_BYTES + HEADER, LE));
            VectorMask<Byte> upper = index.compare(LT, (byte) 0); // points 128-255
            ByteVector signs = ByteVector.fromArray(B, signsAndScales, 128 * p);
            IntVector subBlocks = IntVector.zero(I);
            for (int j0 = 0; j0 < 8; j0 += 4) { // four planes at a time, so that their sums stay within 16 bits
                ShortVector even = ShortVector.zero(S);
                ShortVector odd = even;
                for (int j = j0; j < j0 + 4; j++) {
                    ByteVector magnitude = GridPlanes.lookup(index, upper, GRID_PLANES, 256 * j);
                    VectorMask<Byte> minus = signs.and((byte) (1 << j)).compare(NE, (byte) 0);
                    ShortVector w = magnitude.blend(magnitude.neg(), minus).reinterpretAsShorts();
                    int ao = 512 * p + 64 * j;
                    even = even.add(GridPlanes.even(w).mul(ShortVector.fromArray(S, planes, ao)));
                    odd = odd.add(GridPlanes.odd(w).mul(ShortVector.fromArray(S, planes, ao + 32)));
                }
                subBlocks = subBlocks.add(Int16Dot.pairs(even)).add(Int16Dot.pairs(odd));
            }
            subBlocks = subBlocks.mul(ByteVector.fromArray(B, signsAndScales, 128 * p + 64).reinterpretAsInts());
            dots[2 * p] = subBlocks.reduceLanes(ADD, FIRST_BLOCK);
            dots[2 * p + 1] = subBlocks.reduceLanes(ADD) - dots[2 * p];
        }
    }
}
