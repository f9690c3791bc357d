package moed.kernels;

import static jdk.incubator.vector.VectorOperators.ASHR;
import static jdk.incubator.vector.VectorOperators.LSHL;

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
 * The grid formats' dot products at 512 bits with the grid looked up in vector registers, 64 grid points at a time,
 * instead of decoded point by point ({@link UnpackedFormat}'s scalar decode, about four cycles per eight weights):
 * what {@link IQ2XXSPlanes}, {@link IQ3XXSPlanes}, {@link IQ2XSPlanes}, {@link IQ3SPlanes} and {@link IQ2SPlanes}
 * share (grids of 256, 512 and 1024 points).
 *
 * <p>In a 64-byte vector lane p is grid point p (its index byte). "Plane j" is the j-th weight of every point. Plane
 * j of a 256-point grid is 256 bytes, four vectors, so plane j of 64 points is two two-table byte permutes
 * ({@code selectFrom(v1, v2)}, one {@code vpermi2b} each, 128 entries) and a blend on the index's top bit
 * ({@link #lookup}); larger grids are several lookups blended on the higher index bits. The signs go on the plane's magnitudes as bytes. The activation is laid out to match once per
 * mat-vec (Q8_K integers plane by plane, even points then odd: {@link Activation#q8kPlanes8},
 * {@link Activation#q8kPlanes4}), so a plane's signed bytes, read as shorts, split into even and odd points with one
 * shift each ({@link #even}, {@link #odd}) and multiply 16-bit activation lanes. Four planes add up in 16 bits (a
 * magnitude is at most 62 and an activation 127: 4 * 62 * 127 = 31,496); adjacent 16-bit lanes then add into 32-bit
 * lanes ({@link Int16Dot#pairs}), where each format applies its integer scales. Those are exact integers, a block's
 * integer dot as {@link UnpackedBlock#dot} computes it, so results are the scalar decode's bit for bit.
 *
 * <p>How the kernels ({@link PlaneKernel}) are written: C2 stops inlining Vector API calls into a method past a node
 * budget ({@code NodeCountInliningCutoff}, not settable in a product JVM), and past it some vector operations stay
 * real calls with their vectors boxed (IQ3_XXS: 50 against 21 ns a block). So a plane's code appears once, in a
 * loop; the signs and scales are a first pass over the row into scratch; the kernel gives integer dots and the float
 * steps happen in the caller; and each row kernel is one method, compiled on its own budget where it is larger than
 * C2's inlining size (325 bytecodes; IQ3_XXS's, at 300, is inlined into its caller and still fits). The budget is
 * nearly spent: each kernel keeps its loop written out, since sharing even the two-block reduction as a helper pushed
 * IQ2_XS and IQ2_S past it. Check with {@code -XX:+PrintInlining} after a change. The tables are read from arrays, not held as vector
 * constants (a {@code ByteVector[]} costs three dependent loads and a type check a table: 52 against 31 ns a block).
 * Needs byte permutes across 64 lanes (AVX-512 VBMI, {@link #USABLE}); without them the Vector API emulates
 * {@code selectFrom} and the scalar decode wins.
 */
final class GridPlanes {
    /** True where these kernels run: 512-bit kernels on a processor with AVX-512 VBMI. */
    static final boolean USABLE = Int16Dot.WIDE && CpuFlags.wideBytePermutes();

    static final VectorSpecies<Byte> B = ByteVector.SPECIES_512;
    static final VectorSpecies<Short> S = ShortVector.SPECIES_512;
    static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final VarHandle INTS = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    private GridPlanes() {
    }

    /**
     * A grid of N points of {@code size} bytes (packed low byte first) as planes: plane j at [N j, N j + N), byte j of
     * each point in point order.
     */
    static byte[] planes(long[] grid, int size) {
        int n = grid.length;
        byte[] t = new byte[size * n];
        for (int j = 0; j < size; j++) {
            for (int p = 0; p < n; p++) {
                t[n * j + p] = (byte) (grid[p] >>> (8 * j));
            }
        }
        return t;
    }

    /** {@link #planes(long[], int)} for a grid of four-byte points held as ints. */
    static byte[] planes(int[] grid) {
        long[] points = new long[grid.length];
        for (int p = 0; p < grid.length; p++) {
            points[p] = grid[p] & 0xFFFFFFFFL;
        }
        return planes(points, 4);
    }

    /**
     * Plane {@code table[t..t+256)} at the 64 points' indices; {@code upper}: the indices 128-255 (negative bytes). A
     * 512-point grid is two such lookups and a blend on the index's ninth bit.
     */
    static ByteVector lookup(ByteVector index, VectorMask<Byte> upper, byte[] table, int t) {
        return index.selectFrom(ByteVector.fromArray(B, table, t), ByteVector.fromArray(B, table, t + 64))
                .blend(index.selectFrom(ByteVector.fromArray(B, table, t + 128), ByteVector.fromArray(B, table, t + 192)), upper);
    }

    /** The four 7-bit sign indices of each 32-bit word (bits 0-6, 7-13, 14-20, 21-27) in its four bytes, in order. */
    static ByteVector signIndices(IntVector words) {
        return words.and(0x7F).or(words.lanewise(LSHL, 1).and(0x7F00))
                .or(words.lanewise(LSHL, 2).and(0x7F0000)).or(words.lanewise(LSHL, 3).and(0x7F000000))
                .reinterpretAsBytes();
    }

    /**
     * For formats with a 4-bit scale per 16 weights (two a byte, eight bytes at {@code scales} of each block): the
     * scales 2s + 1 of a pair of blocks' sixteen 32-weight sub-blocks, first halves as ints at {@code out[at..]}, then
     * second halves at {@code out[at + 64..]}, for {@link #halfScaled}.
     */
    static void halfScales(MemorySegment s, long bo, int blockBytes, int scales, byte[] out, int at) {
        for (int k = 0; k < 16; k++) {
            int sc = s.get(ValueLayout.JAVA_BYTE, bo + (k / 8) * blockBytes + scales + k % 8) & 0xFF;
            INTS.set(out, at + 4 * k, 2 * (sc & 0xF) + 1);
            INTS.set(out, at + 64 + 4 * k, 2 * (sc >>> 4) + 1);
        }
    }

    /**
     * Four planes' even and odd points' sums times their scales per 16 weights ({@link #halfScales} at
     * {@code scales[at..]}): in 32-bit lane k, the low 16 bits of both are sub-block k's first half (points 4k and
     * 4k + 1), the high 16 bits its second half.
     */
    static IntVector halfScaled(ShortVector even, ShortVector odd, byte[] scales, int at) {
        IntVector e = even.reinterpretAsInts();
        IntVector o = odd.reinterpretAsInts();
        return e.lanewise(LSHL, 16).lanewise(ASHR, 16).add(o.lanewise(LSHL, 16).lanewise(ASHR, 16))
                .mul(ByteVector.fromArray(B, scales, at).reinterpretAsInts())
                .add(e.lanewise(ASHR, 16).add(o.lanewise(ASHR, 16)).mul(ByteVector.fromArray(B, scales, at + 64).reinterpretAsInts()));
    }

    /** The even points' signed weights of a plane (its bytes read as shorts) as 16-bit lanes. */
    static ShortVector even(ShortVector w) {
        return w.lanewise(LSHL, 8).lanewise(ASHR, 8);
    }

    /** The odd points' signed weights of a plane as 16-bit lanes. */
    static ShortVector odd(ShortVector w) {
        return w.lanewise(ASHR, 8);
    }

    /**
     * The activation's integers {@code q[0..length)} in plane order for points of {@code size} weights into
     * {@code planes}: per 64 points (64 * size values), plane by plane, the even points' values then the odd points'.
     * A trailing part short of 64 points is left out (kernels decode it).
     */
    static void layOut(short[] q, int length, short[] planes, int size) {
        int span = 64 * size;
        for (int i = 0; i < length / span * span; i++) {
            int point = i % span / size;
            planes[i / span * span + 64 * (i % size) + 32 * (point % 2) + point / 2] = q[i];
        }
    }
}
