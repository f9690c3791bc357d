package moed.kernels;

import static jdk.incubator.vector.VectorOperators.ADD;
import static jdk.incubator.vector.VectorOperators.ASHR;
import static jdk.incubator.vector.VectorOperators.LSHL;
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
 * IQ2_XXS's dot product at 512 bits with its grid looked up in vector registers, two blocks at a time, instead of
 * decoded point by point ({@link UnpackedFormat}'s scalar decode, about four cycles per eight weights).
 *
 * <p>Two blocks hold 64 grid points of eight weights; in a 64-byte vector lane e is point e. "Plane j" is the j-th
 * weight of every point. Plane j of the 256-point grid is 256 bytes, four vectors, so plane j of all 64 points is
 * two two-table byte permutes ({@code selectFrom(v1, v2)}, one {@code vpermi2b} each, 128 entries) and a blend on the
 * index's top bit. A plane's signs come the same way from the points' 7-bit sign indices (128 entries: 0 or -1 per
 * plane), and {@code (m ^ s) - s} negates where s is -1. The activation is laid out to match once per mat-vec
 * ({@link Activation#q8kPlanes}: per 512 values, plane by plane, the 64 points' values, even points then odd), so a
 * plane's signed bytes, read as shorts, split into even and odd points with one shift each and multiply 16-bit
 * activation lanes. Four planes add up in 16 bits (|sum| <= 4 * 43 * 128 = 22,016); adjacent 16-bit lanes then add
 * into 32-bit lanes ({@link Int16Dot#pairs}), and even plus odd leaves in 32-bit lane k the sum of sub-block k (four
 * points, 32 weights), which is multiplied by its scale 2s + 1. Those are exact integers, the block's integer dot as
 * {@link UnpackedBlock#dot} computes it, so results are the scalar decode's bit for bit.
 *
 * <p>The planes are two nested loops (four planes, twice) so that one plane's code appears once: C2 stops inlining
 * Vector API calls into a method past a node budget ({@code NodeCountInliningCutoff}, not settable in a product
 * JVM), and the eight planes written as two loops left some vector operations as real calls, twice as slow. The
 * tables are read from arrays, not held as vector constants (a {@code ByteVector[]} costs three dependent loads
 * and a type check a table: 52 against 31 ns a block). Needs byte permutes across 64 lanes
 * (AVX-512 VBMI, {@link #USABLE}); without them the Vector API emulates {@code selectFrom} and the scalar decode wins.
 */
final class IQ2XXSPlanes {
    /** True where this kernel runs: 512-bit kernels on a processor with AVX-512 VBMI. */
    static final boolean USABLE = Int16Dot.WIDE && CpuFlags.has("avx512vbmi");

    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_512;
    private static final VectorSpecies<Short> S = ShortVector.SPECIES_512;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Bytes of a block before its 64 bytes of grid words (the f16 scale). */
    private static final int HEADER = 2;
    private static final int BLOCK_BYTES = 66;
    /** Plane j of the grid at [256 j, 256 j + 256): byte j of each point, in point order. */
    private static final byte[] GRID_PLANES = new byte[8 * 256];
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
            for (int p = 0; p < 256; p++) {
                GRID_PLANES[256 * j + p] = (byte) (IQGrids.IQ2XXS[p] >>> (8 * j));
            }
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

    /** Where the activation's value {@code i} goes in {@link Activation#q8kPlanes}. */
    static int planeIndex(int i) {
        int point = i % 512 / 8;
        return i / 512 * 512 + 64 * (i % 8) + 32 * (point % 2) + point / 2;
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
        // The four 7-bit sign indices of each word (bits 0-6, 7-13, 14-20, 21-27) into its four bytes, point order.
        ByteVector signIndex = words.and(0x7F).or(words.lanewise(LSHL, 1).and(0x7F00))
                .or(words.lanewise(LSHL, 2).and(0x7F0000)).or(words.lanewise(LSHL, 3).and(0x7F000000))
                .reinterpretAsBytes();
        IntVector subBlocks = IntVector.zero(I);
        for (int j0 = 0; j0 < 8; j0 += 4) { // four planes at a time, so that their sums stay within 16 bits
            ShortVector even = ShortVector.zero(S);
            ShortVector odd = even;
            for (int j = j0; j < j0 + 4; j++) {
                int g = 256 * j;
                ByteVector magnitude = index.selectFrom(ByteVector.fromArray(B, GRID_PLANES, g), ByteVector.fromArray(B, GRID_PLANES, g + 64))
                        .blend(index.selectFrom(ByteVector.fromArray(B, GRID_PLANES, g + 128), ByteVector.fromArray(B, GRID_PLANES, g + 192)), upper);
                ByteVector sign = signIndex.selectFrom(ByteVector.fromArray(B, SIGN_PLANES, 128 * j),
                        ByteVector.fromArray(B, SIGN_PLANES, 128 * j + 64));
                ShortVector w = magnitude.lanewise(XOR, sign).sub(sign).reinterpretAsShorts();
                int ao = po + 64 * j;
                even = even.add(w.lanewise(LSHL, 8).lanewise(ASHR, 8).mul(ShortVector.fromArray(S, planes, ao)));
                odd = odd.add(w.lanewise(ASHR, 8).mul(ShortVector.fromArray(S, planes, ao + 32)));
            }
            subBlocks = subBlocks.add(Int16Dot.pairs(even)).add(Int16Dot.pairs(odd));
        }
        subBlocks = subBlocks.mul(words.lanewise(LSHR, 28).lanewise(LSHL, 1).add(1));
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
