package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Q8_0 and Q4_0 rows as the prefill GEMMs widen them ({@link Block32Gemm}, {@link Block32PairGemm}): a run of blocks
 * copied out of the weights into a byte array, then each block's scale and its weights 16 at a time as signed bytes.
 * Reads from the array compile to a fraction of the checks that reads of the mapped file cost (in the pair GEMM's
 * widening, 59 instructions a block pair against 280).
 */
final class Block32Rows {
    /** 16 weights. */
    static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    /** The larger block: a byte array of blocks * MAX_BLOCK_BYTES holds any run of either format. */
    static final int MAX_BLOCK_BYTES = 34;

    private Block32Rows() {
    }

    /** True for the formats read here. */
    static boolean reads(GgmlType t) {
        return t == GgmlType.Q8_0 || t == GgmlType.Q4_0;
    }

    static int blockBytes(GgmlType t) {
        return t == GgmlType.Q8_0 ? 34 : 18;
    }

    /** Blocks b0..b1-1 of a row of m copied to dst[0..]. */
    static void copy(WeightMatrix m, int row, int b0, int b1, byte[] dst) {
        int bb = blockBytes(m.type());
        MemorySegment.copy(m.data(), ValueLayout.JAVA_BYTE, row * m.rowBytes() + (long) b0 * bb, dst, 0, (b1 - b0) * bb);
    }

    /** The weight scale of the block at r[o] (both formats begin with it: half d). */
    static float scale(byte[] r, int o) {
        return Float.float16ToFloat((short) ((r[o] & 0xFF) | (r[o + 1] << 8)));
    }

    /** Weights 0-15 ({@code high} false) or 16-31 of the block at r[o], as signed bytes. */
    static ByteVector weights(byte[] r, int o, boolean q8, boolean high) {
        if (q8) { // block_q8_0 { half d; int8 qs[32]; }
            return ByteVector.fromArray(B16, r, o + (high ? 18 : 2));
        }
        // block_q4_0 { half d; uint8 qs[16]; }: byte j holds weight j (low nibble) and j + 16 (high), offset 8
        ByteVector packed = ByteVector.fromArray(B16, r, o + 2);
        return (high ? packed.lanewise(VectorOperators.LSHR, 4) : packed.and((byte) 0xF)).sub((byte) 8);
    }
}
