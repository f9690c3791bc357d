package moed.kernels;

import static jdk.incubator.vector.VectorOperators.ADD;
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
 * IQ2_S's dot product at 512 bits by {@link GridPlanes}, two blocks at a time, as {@link IQ2XSPlanes} but with a
 * 1024-point grid (a point's index: a byte in qs and two bits in qh, four points a qh byte) and explicit sign bytes
 * (one per point). A plane of 64 points is four 256-point lookups, blended on the index's ninth and tenth bits. The
 * first pass leaves per point its sign byte and its ninth and tenth bits, and the scales per 16 weights.
 */
final class IQ2SPlanes extends PlaneKernel {
    private static final VectorSpecies<Byte> B = GridPlanes.B;
    private static final VectorSpecies<Short> S = GridPlanes.S;
    private static final VectorSpecies<Integer> I = GridPlanes.I;
    private static final ByteOrder LE = GridPlanes.LE;
    private static final int HEADER = 2;
    private static final int BLOCK_BYTES = 82;
    /** A block's qh (eight bytes) and scales (eight) are its last 16 bytes: at 48 and 56 of its last 64. */
    private static final int LAST_64 = BLOCK_BYTES - 64;
    private static final int SCALES = 74;
    private static final byte[] GRID_PLANES = GridPlanes.planes(IQGrids.IQ2S, 8);
    /** Lane e: point e's index byte in two blocks' first 64 bytes after the scale (the second block + 64). */
    private static final ByteVector INDEX_BYTE;
    /** Lane e: point e's sign byte. */
    private static final ByteVector SIGN_BYTE;
    /** Lane e: point e's qh byte in two blocks' last 64 bytes (the second block + 64). */
    private static final ByteVector QH_BYTE;
    /** Lane e: the qh bit that is point e's ninth index bit (its tenth is the next one up). */
    private static final ByteVector NINTH_BIT;
    private static final VectorMask<Integer> FIRST_BLOCK = VectorMask.fromLong(I, 0xFFL);
    /** Per pair in the first pass's scratch: signs, ninth bits, tenth bits (64 bytes each), 16 + 16 int scales. */
    private static final int SCRATCH_PER_PAIR = 320;

    static {
        byte[] index = new byte[64];
        byte[] sign = new byte[64];
        byte[] qh = new byte[64];
        byte[] ninth = new byte[64];
        for (int e = 0; e < 64; e++) {
            index[e] = (byte) (64 * (e / 32) + e % 32);
            sign[e] = (byte) (index[e] + 32);
            qh[e] = (byte) (64 * (e / 32) + 48 + e % 32 / 4);
            ninth[e] = (byte) (1 << (2 * (e % 4)));
        }
        INDEX_BYTE = ByteVector.fromArray(B, index, 0);
        SIGN_BYTE = ByteVector.fromArray(B, sign, 0);
        QH_BYTE = ByteVector.fromArray(B, qh, 0);
        NINTH_BIT = ByteVector.fromArray(B, ninth, 0);
    }

    /** The kernel. */
    static final IQ2SPlanes KERNEL = new IQ2SPlanes();

    private IQ2SPlanes() {
        super(Activation.Form.Q8_K_PLANES8, 2, SCRATCH_PER_PAIR);
    }

    /**
     * The first pass over a row of {@code pairs} pairs of blocks into {@code out}, {@link #SCRATCH_PER_PAIR} bytes a
     * pair: each point's sign byte, its index's ninth and tenth bits (nonzero when set), then the scales as
     * {@link GridPlanes#halfScales} writes them.
     */
    @Override
    void firstPass(MemorySegment s, long off, int pairs, byte[] out) {
        for (int p = 0; p < pairs; p++) {
            long bo = off + 2L * p * BLOCK_BYTES;
            int at = SCRATCH_PER_PAIR * p;
            SIGN_BYTE.selectFrom(ByteVector.fromMemorySegment(B, s, bo + HEADER, LE),
                    ByteVector.fromMemorySegment(B, s, bo + BLOCK_BYTES + HEADER, LE)).intoArray(out, at);
            ByteVector qh = QH_BYTE.selectFrom(ByteVector.fromMemorySegment(B, s, bo + LAST_64, LE),
                    ByteVector.fromMemorySegment(B, s, bo + BLOCK_BYTES + LAST_64, LE));
            qh.and(NINTH_BIT).intoArray(out, at + 64);
            qh.and(NINTH_BIT.add(NINTH_BIT)).intoArray(out, at + 128);
            GridPlanes.halfScales(s, bo, BLOCK_BYTES, SCALES, out, at + 192);
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
            ByteVector index = INDEX_BYTE.selectFrom(ByteVector.fromMemorySegment(B, s, bo + HEADER, LE),
                    ByteVector.fromMemorySegment(B, s, bo + BLOCK_BYTES + HEADER, LE));
            VectorMask<Byte> bit7 = index.compare(LT, (byte) 0);
            VectorMask<Byte> bit8 = ByteVector.fromArray(B, scratch, at + 64).compare(NE, (byte) 0);
            VectorMask<Byte> bit9 = ByteVector.fromArray(B, scratch, at + 128).compare(NE, (byte) 0);
            ByteVector signs = ByteVector.fromArray(B, scratch, at);
            IntVector subBlocks = IntVector.zero(I);
            for (int j0 = 0; j0 < 8; j0 += 4) { // four planes at a time, so that their sums stay within 16 bits
                ShortVector even = ShortVector.zero(S);
                ShortVector odd = even;
                for (int j = j0; j < j0 + 4; j++) {
                    int t = 1024 * j;
                    ByteVector magnitude = GridPlanes.lookup(index, bit7, GRID_PLANES, t)
                            .blend(GridPlanes.lookup(index, bit7, GRID_PLANES, t + 256), bit8)
                            .blend(GridPlanes.lookup(index, bit7, GRID_PLANES, t + 512)
                                    .blend(GridPlanes.lookup(index, bit7, GRID_PLANES, t + 768), bit8), bit9);
                    VectorMask<Byte> minus = signs.and((byte) (1 << j)).compare(NE, (byte) 0);
                    ShortVector w = magnitude.blend(magnitude.neg(), minus).reinterpretAsShorts();
                    int ao = 512 * p + 64 * j;
                    even = even.add(GridPlanes.even(w).mul(ShortVector.fromArray(S, planes, ao)));
                    odd = odd.add(GridPlanes.odd(w).mul(ShortVector.fromArray(S, planes, ao + 32)));
                }
                subBlocks = subBlocks.add(GridPlanes.halfScaled(even, odd, scratch, at + 192));
            }
            dots[2 * p] = subBlocks.reduceLanes(ADD, FIRST_BLOCK);
            dots[2 * p + 1] = subBlocks.reduceLanes(ADD) - dots[2 * p];
        }
    }
}
