package moed.kernels;

import java.lang.foreign.MemorySegment;

/**
 * The scalar reference dequantizers, by type: each format's own lives in its {@link BlockFormat}, written to be read
 * next to ggml's {@code dequantize_row_*} functions in {@code ggml-quants.c}. Slow on purpose; the fast kernels are
 * tested against these.
 */
public final class Dequantize {
    private Dequantize() {
    }

    /** The types moed computes, for error messages. */
    public static String supportedNames() {
        return java.util.Arrays.stream(GgmlType.values()).filter(Dequantize::supports).map(Enum::name)
                .collect(java.util.stream.Collectors.joining(", "));
    }

    public static boolean supports(GgmlType t) {
        return BlockFormat.find(t) != null;
    }

    /**
     * Dequantizes {@code n} weights of type {@code t} starting at byte {@code off} of {@code src} into
     * {@code dst[dstOff..dstOff+n)}. {@code n} must be a multiple of the type's block size.
     */
    public static void row(GgmlType t, MemorySegment src, long off, float[] dst, int dstOff, int n) {
        if (n % t.blockSize != 0) {
            throw new IllegalArgumentException(n + " weights is not a whole number of " + t + " blocks");
        }
        if (n > 0) {
            t.format().dequantize(src, off, dst, dstOff, n / t.blockSize);
        }
    }

    /** Thrown when a tensor's type has no dequantizer (no {@link BlockFormat}) in moed yet. */
    public static final class UnsupportedTypeException extends RuntimeException {
        public UnsupportedTypeException(GgmlType t) {
            super("tensor type " + t + " cannot be computed by moed yet; supported: " + supportedNames());
        }
    }

    /**
     * The scale of sub-block j (of eight) of the Q4_K/Q5_K block at byte {@code bo}: the block's half d times the
     * sub-block's 6-bit scale, ggml's {@code d1 = d * sc} in {@code dequantize_row_q4_K} and {@code _q5_K}.
     */
    static float subBlockScaleK4(MemorySegment s, long bo, int j) {
        return Bytes.f16(s, bo) * scaleMinK4(s, bo + 4, j, false);
    }

    /** The minimum of sub-block j of the Q4_K/Q5_K block at {@code bo}: its half dmin times the 6-bit min. */
    static float subBlockMinK4(MemorySegment s, long bo, int j) {
        return Bytes.f16(s, bo + 2) * scaleMinK4(s, bo + 4, j, true);
    }

    /**
     * ggml's {@code get_scale_min_k4}: the j-th 6-bit scale (index 0) and min (index 1) of a Q4_K/Q5_K block; shared
     * by those two formats and Q4_K's quantizer.
     */
    static int scaleMinK4(MemorySegment s, long scales, int j, boolean min) {
        if (j < 4) {
            return min ? Bytes.u8(s, scales + j + 4) & 63 : Bytes.u8(s, scales + j) & 63;
        }
        if (min) {
            return (Bytes.u8(s, scales + j + 4) >>> 4) | ((Bytes.u8(s, scales + j) >>> 6) << 4);
        }
        return (Bytes.u8(s, scales + j + 4) & 0xF) | ((Bytes.u8(s, scales + j - 4) >>> 6) << 4);
    }
}
