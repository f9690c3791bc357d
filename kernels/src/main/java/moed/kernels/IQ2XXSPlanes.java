package moed.kernels;

import static jdk.incubator.vector.VectorOperators.ADD;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.LT;
import static jdk.incubator.vector.VectorOperators.XOR;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * IQ2_XXS's dot product at 512 bits by {@link GridPlanes}, two blocks at a time: their 64 grid points of eight
 * weights, eight planes. Each point's signs come as a 7-bit index into the eight signs of {@link IQGrids#SIGNS7};
 * plane j's signs are looked up like its magnitudes (128 entries: -1 where sign j is minus, else 0) and
 * {@code (m ^ s) - s} negates where s is -1. The activation: {@link Activation#q8kPlanes8} (per 512 values, eight
 * planes of 64 points). In 32-bit lanes even plus odd points leave the sum of sub-block k (four points, 32 weights)
 * in lane k, times its scale 2s + 1.
 */
final class IQ2XXSPlanes {
    private static final VectorSpecies<Byte> B = GridPlanes.B;
    private static final VectorSpecies<Short> S = GridPlanes.S;
    private static final VectorSpecies<Integer> I = GridPlanes.I;
    private static final ByteOrder LE = GridPlanes.LE;
    /** Bytes of a block before its 64 bytes of grid words (the f16 scale). */
    private static final int HEADER = 2;
    private static final int BLOCK_BYTES = 66;
    private static final byte[] GRID_PLANES = GridPlanes.planes(IQGrids.IQ2XXS, 8);
    /** Plane j's signs at [128 j, 128 j + 128): -1 where bit j of the sign index's eight signs is set, else 0. */
    private static final byte[] SIGN_PLANES = new byte[8 * 128];
    /** Lane e: where point e's grid index sits in two blocks' grid words (bytes 0-3 of each 8, the second block + 64). */
    private static final ByteVector POINT_INDEX;
    /** Lane k: where sub-block k's sign-and-scale word sits in two blocks' grid words as ints (odd ints). */
    private static final IntVector SUB_BLOCK_WORD;
    /** The first block's sub-blocks: 32-bit lanes 0-7. */
    private static final VectorMask<Integer> FIRST_BLOCK = VectorMask.fromLong(I, 0xFFL);

    static {
        for (int j = 0; j < 8; j++) {
            for (int i = 0; i < 128; i++) {
                SIGN_PLANES[128 * j + i] = (byte) -(IQGrids.ksigns(i) >>> j & 1);
            }
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

    private IQ2XXSPlanes() {
    }

    /** Where the activation's value {@code i} goes in {@link Activation#q8kPlanes8}. */
    static int planeIndex(int i) {
        return GridPlanes.planeIndex(i, 8, 512);
    }

    /**
     * The integer dots of blocks b and b + 1 (at {@code bo}), packed as {@link #first} and {@link #second} read them.
     * {@code po} = 256 b, the pair's place in {@code planes}.
     */
    static long dot2(MemorySegment s, long bo, short[] planes, int po) {
        ByteVector q0 = ByteVector.fromMemorySegment(B, s, bo + HEADER, LE);
        ByteVector q1 = ByteVector.fromMemorySegment(B, s, bo + BLOCK_BYTES + HEADER, LE);
        ByteVector index = POINT_INDEX.selectFrom(q0, q1);
        VectorMask<Byte> upper = index.compare(LT, (byte) 0); // points 128-255
        IntVector words = SUB_BLOCK_WORD.selectFrom(q0.reinterpretAsInts(), q1.reinterpretAsInts());
        ByteVector signIndex = GridPlanes.signIndices(words); // point order
        IntVector subBlocks = IntVector.zero(I);
        for (int j0 = 0; j0 < 8; j0 += 4) { // four planes at a time, so that their sums stay within 16 bits
            ShortVector even = ShortVector.zero(S);
            ShortVector odd = even;
            for (int j = j0; j < j0 + 4; j++) {
                ByteVector magnitude = GridPlanes.lookup(index, upper, GRID_PLANES, 256 * j);
                ByteVector sign = signIndex.selectFrom(ByteVector.fromArray(B, SIGN_PLANES, 128 * j),
                        ByteVector.fromArray(B, SIGN_PLANES, 128 * j + 64));
                ShortVector w = magnitude.lanewise(XOR, sign).sub(sign).reinterpretAsShorts();
                int ao = po + 64 * j;
                even = even.add(GridPlanes.even(w).mul(ShortVector.fromArray(S, planes, ao)));
                odd = odd.add(GridPlanes.odd(w).mul(ShortVector.fromArray(S, planes, ao + 32)));
            }
            subBlocks = subBlocks.add(Int16Dot.pairs(even)).add(Int16Dot.pairs(odd));
        }
        subBlocks = subBlocks.mul(words.lanewise(LSHR, 27).or(1)); // 2s + 1 (bit 27 is a sign bit)
        int firstBlock = subBlocks.reduceLanes(ADD, FIRST_BLOCK);
        return ((long) (subBlocks.reduceLanes(ADD) - firstBlock) << 32) + firstBlock;
    }

    /** Block b's integer dot from a {@link #dot2} result. */
    static int first(long dots) {
        return (int) dots;
    }

    /** Block b + 1's integer dot from a {@link #dot2} result. */
    static int second(long dots) {
        return (int) ((dots - (int) dots) >> 32);
    }
}
