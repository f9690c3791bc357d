package moed.kernels;

import java.lang.foreign.MemorySegment;

/**
 * The scalar reference dequantizers: the definition of each block format, written to be read next to
 * ggml's {@code dequantize_row_*} functions in {@code ggml-quants.c}. Slow on purpose; the fast kernels
 * are tested against these.
 */
public final class Dequantize {
    /** ggml's {@code kvalues_iq4nl}: the 16 non-linear levels of IQ4_NL. */
    static final byte[] IQ4NL_VALUES = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
    /** ggml's {@code kvalues_mxfp4}: the FP4 (E2M1) values, doubled so they are integers. */
    static final byte[] MXFP4_VALUES = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

    private Dequantize() {
    }

    /** The types moed computes, for error messages. */
    public static String supportedNames() {
        return java.util.Arrays.stream(GgmlType.values()).filter(Dequantize::supports).map(Enum::name)
                .collect(java.util.stream.Collectors.joining(", "));
    }

    public static boolean supports(GgmlType t) {
        return switch (t) {
            case F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K, IQ4_NL, MXFP4 -> true;
            default -> false;
        };
    }

    /**
     * Dequantizes {@code n} weights of type {@code t} starting at byte {@code off} of {@code src} into
     * {@code dst[dstOff..dstOff+n)}. {@code n} must be a multiple of the type's block size.
     */
    public static void row(GgmlType t, MemorySegment src, long off, float[] dst, int dstOff, int n) {
        if (n % t.blockSize != 0) {
            throw new IllegalArgumentException(n + " weights is not a whole number of " + t + " blocks");
        }
        int blocks = n / t.blockSize;
        for (int b = 0; b < blocks; b++) {
            long bo = off + (long) b * t.blockBytes;
            int o = dstOff + b * t.blockSize;
            switch (t) {
                case F32 -> dst[o] = src.get(Bytes.LE_FLOAT, bo);
                case F16 -> dst[o] = Bytes.f16(src, bo);
                case BF16 -> dst[o] = Bytes.bf16(src, bo);
                case Q4_0 -> q4_0(src, bo, dst, o);
                case Q4_1 -> q4_1(src, bo, dst, o);
                case Q5_0 -> q5_0(src, bo, dst, o);
                case Q5_1 -> q5_1(src, bo, dst, o);
                case Q8_0 -> q8_0(src, bo, dst, o);
                case Q2_K -> q2_k(src, bo, dst, o);
                case Q3_K -> q3_k(src, bo, dst, o);
                case Q4_K -> q4_k(src, bo, dst, o);
                case Q5_K -> q5_k(src, bo, dst, o);
                case Q6_K -> q6_k(src, bo, dst, o);
                case Q8_K -> q8_k(src, bo, dst, o);
                case IQ4_NL -> iq4_nl(src, bo, dst, o);
                case MXFP4 -> mxfp4(src, bo, dst, o);
                default -> throw new UnsupportedTypeException(t);
            }
        }
    }

    /** Thrown when a tensor's type has no dequantizer in moed yet. */
    public static final class UnsupportedTypeException extends RuntimeException {
        public UnsupportedTypeException(GgmlType t) {
            super("tensor type " + t + " cannot be computed by moed yet; supported: " + supportedNames());
        }
    }

    // block_q4_0 { half d; uint8 qs[16]; }: low nibbles are weights 0..15, high nibbles 16..31, offset 8.
    static void q4_0(MemorySegment s, long bo, float[] y, int o) {
        float d = Bytes.f16(s, bo);
        for (int j = 0; j < 16; j++) {
            int q = Bytes.u8(s, bo + 2 + j);
            y[o + j] = ((q & 0xF) - 8) * d;
            y[o + j + 16] = ((q >>> 4) - 8) * d;
        }
    }

    // block_q4_1 { half d; half m; uint8 qs[16]; }
    static void q4_1(MemorySegment s, long bo, float[] y, int o) {
        float d = Bytes.f16(s, bo);
        float m = Bytes.f16(s, bo + 2);
        for (int j = 0; j < 16; j++) {
            int q = Bytes.u8(s, bo + 4 + j);
            y[o + j] = (q & 0xF) * d + m;
            y[o + j + 16] = (q >>> 4) * d + m;
        }
    }

    // block_q5_0 { half d; uint32 qh; uint8 qs[16]; }: bit j of qh is the fifth bit of weight j.
    static void q5_0(MemorySegment s, long bo, float[] y, int o) {
        float d = Bytes.f16(s, bo);
        int qh = Bytes.u32(s, bo + 2);
        for (int j = 0; j < 16; j++) {
            int q = Bytes.u8(s, bo + 6 + j);
            int h0 = ((qh >>> j) << 4) & 0x10;
            int h1 = (qh >>> (j + 12)) & 0x10;
            y[o + j] = (((q & 0xF) | h0) - 16) * d;
            y[o + j + 16] = (((q >>> 4) | h1) - 16) * d;
        }
    }

    // block_q5_1 { half d; half m; uint32 qh; uint8 qs[16]; }
    static void q5_1(MemorySegment s, long bo, float[] y, int o) {
        float d = Bytes.f16(s, bo);
        float m = Bytes.f16(s, bo + 2);
        int qh = Bytes.u32(s, bo + 4);
        for (int j = 0; j < 16; j++) {
            int q = Bytes.u8(s, bo + 8 + j);
            int h0 = ((qh >>> j) << 4) & 0x10;
            int h1 = (qh >>> (j + 12)) & 0x10;
            y[o + j] = ((q & 0xF) | h0) * d + m;
            y[o + j + 16] = ((q >>> 4) | h1) * d + m;
        }
    }

    // block_q8_0 { half d; int8 qs[32]; }
    static void q8_0(MemorySegment s, long bo, float[] y, int o) {
        float d = Bytes.f16(s, bo);
        for (int j = 0; j < 32; j++) {
            y[o + j] = Bytes.i8(s, bo + 2 + j) * d;
        }
    }

    // block_q2_K { uint8 scales[16]; uint8 qs[64]; half d; half dmin; }: 16 sub-blocks of 16, 4-bit scale and min.
    static void q2_k(MemorySegment s, long bo, float[] y, int o) {
        float d = Bytes.f16(s, bo + 80);
        float min = Bytes.f16(s, bo + 82);
        int is = 0;
        for (int n = 0; n < 2; n++) {
            long q = bo + 16 + n * 32L;
            for (int shift = 0; shift < 8; shift += 2) {
                for (int half = 0; half < 2; half++) {
                    int sc = Bytes.u8(s, bo + is++);
                    float dl = d * (sc & 0xF);
                    float ml = min * (sc >>> 4);
                    for (int l = 0; l < 16; l++) {
                        y[o++] = dl * ((Bytes.u8(s, q + half * 16L + l) >>> shift) & 3) - ml;
                    }
                }
            }
        }
    }

    // block_q3_K { uint8 hmask[32]; uint8 qs[64]; uint8 scales[12]; half d; }: 6-bit signed scales packed in 12 bytes.
    static void q3_k(MemorySegment s, long bo, float[] y, int o) {
        float d = Bytes.f16(s, bo + 108);
        int a0 = Bytes.u32(s, bo + 96);
        int a1 = Bytes.u32(s, bo + 100);
        int tmp = Bytes.u32(s, bo + 104);
        final int km1 = 0x03030303;
        final int km2 = 0x0f0f0f0f;
        int[] aux = {
            (a0 & km2) | (((tmp) & km1) << 4),
            (a1 & km2) | (((tmp >>> 2) & km1) << 4),
            ((a0 >>> 4) & km2) | (((tmp >>> 4) & km1) << 4),
            ((a1 >>> 4) & km2) | (((tmp >>> 6) & km1) << 4),
        };
        int is = 0;
        int m = 1;
        for (int n = 0; n < 2; n++) {
            long q = bo + 32 + n * 32L;
            for (int shift = 0; shift < 8; shift += 2) {
                for (int half = 0; half < 2; half++) {
                    int sc = (byte) (aux[is >>> 2] >>> (8 * (is & 3)));
                    is++;
                    float dl = d * (sc - 32);
                    for (int l = 0; l < 16; l++) {
                        int idx = half * 16 + l;
                        int hm = Bytes.u8(s, bo + idx);
                        int v = ((Bytes.u8(s, q + idx) >>> shift) & 3) - ((hm & m) != 0 ? 0 : 4);
                        y[o++] = dl * v;
                    }
                }
                m <<= 1;
            }
        }
    }

    /** ggml's {@code get_scale_min_k4}: the j-th 6-bit scale (index 0) and min (index 1) of a Q4_K/Q5_K block. */
    static int scaleMinK4(MemorySegment s, long scales, int j, boolean min) {
        if (j < 4) {
            return min ? Bytes.u8(s, scales + j + 4) & 63 : Bytes.u8(s, scales + j) & 63;
        }
        if (min) {
            return (Bytes.u8(s, scales + j + 4) >>> 4) | ((Bytes.u8(s, scales + j) >>> 6) << 4);
        }
        return (Bytes.u8(s, scales + j + 4) & 0xF) | ((Bytes.u8(s, scales + j - 4) >>> 6) << 4);
    }

    // block_q4_K { half d; half dmin; uint8 scales[12]; uint8 qs[128]; }: 8 sub-blocks of 32.
    static void q4_k(MemorySegment s, long bo, float[] y, int o) {
        float d = Bytes.f16(s, bo);
        float min = Bytes.f16(s, bo + 2);
        long sc = bo + 4;
        long q = bo + 16;
        for (int j = 0, is = 0; j < 256; j += 64, is += 2, q += 32) {
            float d1 = d * scaleMinK4(s, sc, is, false);
            float m1 = min * scaleMinK4(s, sc, is, true);
            float d2 = d * scaleMinK4(s, sc, is + 1, false);
            float m2 = min * scaleMinK4(s, sc, is + 1, true);
            for (int l = 0; l < 32; l++) {
                y[o + j + l] = d1 * (Bytes.u8(s, q + l) & 0xF) - m1;
            }
            for (int l = 0; l < 32; l++) {
                y[o + j + 32 + l] = d2 * (Bytes.u8(s, q + l) >>> 4) - m2;
            }
        }
    }

    // block_q5_K { half d; half dmin; uint8 scales[12]; uint8 qh[32]; uint8 qs[128]; }
    static void q5_k(MemorySegment s, long bo, float[] y, int o) {
        float d = Bytes.f16(s, bo);
        float min = Bytes.f16(s, bo + 2);
        long sc = bo + 4;
        long qh = bo + 16;
        long ql = bo + 48;
        int u1 = 1;
        int u2 = 2;
        for (int j = 0, is = 0; j < 256; j += 64, is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
            float d1 = d * scaleMinK4(s, sc, is, false);
            float m1 = min * scaleMinK4(s, sc, is, true);
            float d2 = d * scaleMinK4(s, sc, is + 1, false);
            float m2 = min * scaleMinK4(s, sc, is + 1, true);
            for (int l = 0; l < 32; l++) {
                int h = Bytes.u8(s, qh + l);
                y[o + j + l] = d1 * ((Bytes.u8(s, ql + l) & 0xF) + ((h & u1) != 0 ? 16 : 0)) - m1;
                y[o + j + 32 + l] = d2 * ((Bytes.u8(s, ql + l) >>> 4) + ((h & u2) != 0 ? 16 : 0)) - m2;
            }
        }
    }

    // block_q6_K { uint8 ql[128]; uint8 qh[64]; int8 scales[16]; half d; }: 16 sub-blocks of 16, offset 32.
    static void q6_k(MemorySegment s, long bo, float[] y, int o) {
        float d = Bytes.f16(s, bo + 208);
        for (int n = 0; n < 2; n++) {
            long ql = bo + n * 64L;
            long qh = bo + 128 + n * 32L;
            long sc = bo + 192 + n * 8L;
            int yo = o + n * 128;
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int a = Bytes.u8(s, ql + l);
                int b = Bytes.u8(s, ql + l + 32);
                int h = Bytes.u8(s, qh + l);
                int q1 = ((a & 0xF) | ((h & 3) << 4)) - 32;
                int q2 = ((b & 0xF) | (((h >>> 2) & 3) << 4)) - 32;
                int q3 = ((a >>> 4) | (((h >>> 4) & 3) << 4)) - 32;
                int q4 = ((b >>> 4) | (((h >>> 6) & 3) << 4)) - 32;
                y[yo + l] = d * Bytes.i8(s, sc + is) * q1;
                y[yo + l + 32] = d * Bytes.i8(s, sc + is + 2) * q2;
                y[yo + l + 64] = d * Bytes.i8(s, sc + is + 4) * q3;
                y[yo + l + 96] = d * Bytes.i8(s, sc + is + 6) * q4;
            }
        }
    }

    // block_q8_K { float d; int8 qs[256]; int16 bsums[16]; }
    static void q8_k(MemorySegment s, long bo, float[] y, int o) {
        float d = s.get(Bytes.LE_FLOAT, bo);
        for (int j = 0; j < 256; j++) {
            y[o + j] = d * Bytes.i8(s, bo + 4 + j);
        }
    }

    // block_iq4_nl { half d; uint8 qs[16]; }: nibbles index a non-linear table.
    static void iq4_nl(MemorySegment s, long bo, float[] y, int o) {
        float d = Bytes.f16(s, bo);
        for (int j = 0; j < 16; j++) {
            int q = Bytes.u8(s, bo + 2 + j);
            y[o + j] = d * IQ4NL_VALUES[q & 0xF];
            y[o + j + 16] = d * IQ4NL_VALUES[q >>> 4];
        }
    }

    // block_mxfp4 { uint8 e; uint8 qs[16]; }: E8M0 shared exponent; the table is doubled, so the scale is halved.
    static void mxfp4(MemorySegment s, long bo, float[] y, int o) {
        int e = Bytes.u8(s, bo);
        float d = e8m0Half(e);
        for (int j = 0; j < 16; j++) {
            int q = Bytes.u8(s, bo + 1 + j);
            y[o + j] = d * MXFP4_VALUES[q & 0xF];
            y[o + j + 16] = d * MXFP4_VALUES[q >>> 4];
        }
    }

    /** ggml's {@code GGML_E8M0_TO_FP32_HALF}: 2^(e-127) / 2, with e = 0 and e = 1 as subnormals. */
    static float e8m0Half(int e) {
        int bits = e < 2 ? 0x00200000 << e : (e - 1) << 23;
        return Float.intBitsToFloat(bits);
    }
}
