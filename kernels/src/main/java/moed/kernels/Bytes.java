package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Little-endian, unaligned reads and writes of the scalar fields inside ggml blocks. Kernels use these layout
 * constants: a layout built with {@code withOrder(...)} at the call site is not constant-folded by the JIT, and
 * made a Q4_K kernel three times slower when tried.
 */
public final class Bytes {
    public static final ValueLayout.OfShort LE_SHORT =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfFloat LE_FLOAT =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfDouble LE_DOUBLE =
            ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Bytes() {
    }

    public static int u8(MemorySegment s, long off) {
        return s.get(ValueLayout.JAVA_BYTE, off) & 0xFF;
    }

    public static int u16(MemorySegment s, long off) {
        return s.get(LE_SHORT, off) & 0xFFFF;
    }

    public static int i8(MemorySegment s, long off) {
        return s.get(ValueLayout.JAVA_BYTE, off);
    }

    /**
     * An IEEE half stored at {@code off}, widened to float. The vector kernels write the body out instead
     * ({@code Float.float16ToFloat(s.get(LE_SHORT, off))}): in a large compiled loop C2 stops inlining small calls
     * (NodeCountInliningCutoff) and this one then became a real call per block, spilling every vector register
     * around it (Q6_K at 256 bits: 46 ns a super-block with the call, 28 without; Q4_K 39 against 33). The two
     * calls inside are intrinsics or forced inline, so they never hit that limit.
     */
    public static float f16(MemorySegment s, long off) {
        return Float.float16ToFloat(s.get(LE_SHORT, off));
    }

    public static float bf16(MemorySegment s, long off) {
        return Float.intBitsToFloat((s.get(LE_SHORT, off) & 0xFFFF) << 16);
    }

    public static float bf16ToFloat(short h) {
        return Float.intBitsToFloat((h & 0xFFFF) << 16);
    }

    public static int u32(MemorySegment s, long off) {
        return s.get(LE_INT, off);
    }

    /** Rounds a float to the nearest half and back, as storing it in an F16 field does. */
    public static float roundToF16(float x) {
        return Float.float16ToFloat(Float.floatToFloat16(x));
    }

    /** Rounds a float to bf16 the way ggml's {@code ggml_compute_fp32_to_bf16} does (nearest even, NaN kept quiet). */
    public static short toBf16(float x) {
        int u = Float.floatToRawIntBits(x);
        if ((u & 0x7fffffff) > 0x7f800000) {
            return (short) ((u >>> 16) | 64);
        }
        return (short) ((u + (0x7fff + ((u >>> 16) & 1))) >>> 16);
    }
}
