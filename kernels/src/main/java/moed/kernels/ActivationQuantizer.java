package moed.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Quantizes an activation vector to the integer forms the kernels read ({@link Activation}): Q8_K (per 256 values a
 * scale and integers in -127..127), ik_llama.cpp's Q8_0 for x86 (per 32; mainline llama.cpp's on request), and the
 * pairings the interleaved kernels broadcast. Each form has a scalar definition and a vector twin that gives the same bits (the tests compare them).
 *
 * <p>Why vectors here: the caller prepares an activation alone, before the threads share the mat-vec, so its time is
 * serial: the scalar Q8_K quantization and pairing were ~10% of the main thread's samples in a Q4_K MoE's decode,
 * with the other core spinning meanwhile.
 *
 * <p>Rounding: {@code Math.rint} as {@code (v + 1.5 * 2^23) - 1.5 * 2^23}, exact for |v| < 2^22 (the sum lies where
 * floats are the integers, rounded half to even as rint does); the values rounded here are at most about 127 in
 * magnitude unless the activation holds infinities or NaN, and a block with NaN or an infinity is quantized by the
 * scalar definition.
 */
final class ActivationQuantizer {
    private static final VectorSpecies<Float> F = Dot.F;
    private static final int L = F.length();
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_MAX.withShape(F.vectorShape());
    /** Twice as many shorts as floats: one vector holds the integers of two float vectors. */
    private static final VectorSpecies<Short> S2 = ShortVector.SPECIES_MAX.withShape(F.vectorShape());
    /** As many shorts as floats. */
    private static final VectorSpecies<Short> H = Dot.H;
    private static final float RINT = 0x1.8p23f;
    /** Within each four shorts, (k, k + 2, k + 1, k + 3): the Q8_K pairs as ints ({@link Activation#q8kPairs}). */
    private static final VectorShuffle<Short> PAIRS_4 = Dot.VECTOR
            ? VectorShuffle.fromOp(S2, i -> (i & ~3) | new int[] {0, 2, 1, 3}[i & 3]) : null;
    /** Within each 32 shorts (512 bits only), (j, 16 + j) for j in 0..15: the Q8_0 pairs ({@link Activation#q8Pairs}). */
    private static final VectorShuffle<Short> PAIRS_32 = Dot.VECTOR && S2.length() == 32
            ? VectorShuffle.fromOp(S2, i -> (i & 1) * 16 + i / 2) : null;

    private ActivationQuantizer() {
    }

    /** Q8_K of x[0, length): per 256 a scale, integers, and the integer sums of each 16 and each 32. */
    static void q8k(float[] x, int length, short[] q, float[] scale, short[] sum16, float[] sum32) {
        for (int b = 0; b < length / 256; b++) {
            if (!Dot.VECTOR || !q8kBlockVector(x, b, q, scale, sum16)) {
                q8kBlockScalar(x, b, q, scale, sum16);
            }
            for (int g = 0; g < 8; g++) {
                sum32[b * 8 + g] = sum16[b * 16 + 2 * g] + sum16[b * 16 + 2 * g + 1];
            }
        }
    }

    // quantize_row_q8_K_ref: the scale maps the value of largest magnitude to -127 (its sign flipped).
    static void q8kBlockScalar(float[] x, int b, short[] q, float[] scale, short[] sum16) {
        float max = 0;
        float amax = 0;
        for (int j = 0; j < 256; j++) {
            float ax = Math.abs(x[b * 256 + j]);
            if (ax > amax) {
                amax = ax;
                max = x[b * 256 + j];
            }
        }
        if (amax == 0) {
            scale[b] = 0;
            java.util.Arrays.fill(q, b * 256, b * 256 + 256, (short) 0);
            java.util.Arrays.fill(sum16, b * 16, b * 16 + 16, (short) 0);
            return;
        }
        float iscale = -127f / max;
        for (int j = 0; j < 256; j++) {
            q[b * 256 + j] = (short) Math.min(127, Quantize.nearestInt(iscale * x[b * 256 + j]));
        }
        for (int g = 0; g < 16; g++) {
            int sum = 0;
            for (int j = 0; j < 16; j++) {
                sum += q[b * 256 + g * 16 + j];
            }
            sum16[b * 16 + g] = (short) sum;
        }
        scale[b] = 1 / iscale;
    }

    /** The vector twin of {@link #q8kBlockScalar}; false (nothing written) for a block with NaN or an infinity. */
    private static boolean q8kBlockVector(float[] x, int b, short[] q, float[] scale, short[] sum16) {
        int base = b * 256;
        float amax = largestMagnitude(x, base, 256);
        if (!(amax < Float.POSITIVE_INFINITY)) {
            return false;
        }
        if (amax == 0) {
            scale[b] = 0;
            java.util.Arrays.fill(q, base, base + 256, (short) 0);
            java.util.Arrays.fill(sum16, b * 16, b * 16 + 16, (short) 0);
            return true;
        }
        // The first value of largest magnitude, as the scalar loop keeps it (it replaces only on a strictly larger one).
        float max = 0;
        for (int j = 0; j < 256; j += L) {
            VectorMask<Float> at = FloatVector.fromArray(F, x, base + j).abs().compare(VectorOperators.EQ, amax);
            if (at.anyTrue()) {
                max = x[base + j + at.firstTrue()];
                break;
            }
        }
        float iscale = -127f / max;
        for (int g = 0; g < 16; g++) {
            int sum = 0;
            for (int j = g * 16; j < g * 16 + 16; j += L) {
                IntVector v = (IntVector) FloatVector.fromArray(F, x, base + j).mul(iscale).add(RINT).sub(RINT)
                        .convert(VectorOperators.F2I, 0);
                v = v.min(127);
                sum += v.reduceLanes(VectorOperators.ADD);
                ((ShortVector) v.convertShape(VectorOperators.I2S, H, 0)).intoArray(q, base + j);
            }
            sum16[b * 16 + g] = (short) sum;
        }
        scale[b] = 1 / iscale;
        return true;
    }

    /** The largest |x[from + j]| for j < n (a multiple of the vector length); NaN if any is NaN. */
    private static float largestMagnitude(float[] x, int from, int n) {
        FloatVector m = FloatVector.zero(F);
        for (int j = 0; j < n; j += L) {
            m = m.max(FloatVector.fromArray(F, x, from + j).abs());
        }
        return m.reduceLanes(VectorOperators.MAX);
    }

    /**
     * Per block of 32 integers and pair of lanes (2P, 2P + 1): eight times each lane's sum (lane i: integers 2i, 2i + 1,
     * 16 + 2i, 17 + 2i) as the two 16-bit halves of an int, low first ({@link Activation#q4Offsets}).
     */
    static void q4_0Offsets(short[] q, int length, int[] offsets) {
        for (int b = 0; b < length / 32; b++) {
            int o = 32 * b;
            for (int p = 0; p < 4; p++) {
                int i = 2 * p;
                int lo = 8 * (q[o + 2 * i] + q[o + 2 * i + 1] + q[o + 16 + 2 * i] + q[o + 17 + 2 * i]);
                int hi = 8 * (q[o + 2 * i + 2] + q[o + 2 * i + 3] + q[o + 18 + 2 * i] + q[o + 19 + 2 * i]);
                offsets[4 * b + p] = (lo & 0xFFFF) | hi << 16;
            }
        }
    }

    /** The Q8_K integers of each four (k, k + 1, k + 2, k + 3) as the ints (k, k + 2) and (k + 1, k + 3). */
    static void q8kPairs(short[] q, int length, int[] pairs) {
        int k = 0;
        if (Dot.VECTOR) {
            for (; k + S2.length() <= length; k += S2.length()) {
                ShortVector.fromArray(S2, q, k).rearrange(PAIRS_4).reinterpretAsInts().intoArray(pairs, k / 2);
            }
        }
        for (; k < length; k += 4) {
            pairs[k / 2] = (q[k] & 0xFFFF) | q[k + 2] << 16;
            pairs[k / 2 + 1] = (q[k + 1] & 0xFFFF) | q[k + 3] << 16;
        }
    }

    /**
     * ik_llama.cpp's Q8_0 for x86 (its Q8_2 blocks): d = amax / 127 rounded to bf16, q = x / d rounded half to even;
     * per 32 values the scale, the integers and their sum.
     */
    static void q8_0(float[] x, int length, short[] q, float[] scale, float[] sums) {
        for (int b = 0; b < length / 32; b++) {
            if (!Dot.VECTOR || !q8_0BlockVector(x, b, q, scale, sums)) {
                q8_0BlockScalar(x, b, q, scale, sums);
            }
        }
    }

    static void q8_0BlockScalar(float[] x, int b, short[] q, float[] scale, float[] sums) {
        float amax = 0;
        for (int j = 0; j < 32; j++) {
            amax = Math.max(amax, Math.abs(x[b * 32 + j]));
        }
        float d = Bytes.bf16ToFloat(Bytes.toBf16(amax / 127f));
        float id = d > 0 ? 1f / d : 0f;
        scale[b] = d;
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            q[b * 32 + j] = (short) Math.rint(x[b * 32 + j] * id);
            sum += q[b * 32 + j];
        }
        sums[b] = sum;
    }

    private static boolean q8_0BlockVector(float[] x, int b, short[] q, float[] scale, float[] sums) {
        int base = b * 32;
        float amax = largestMagnitude(x, base, 32);
        if (!(amax < Float.POSITIVE_INFINITY)) {
            return false;
        }
        float d = Bytes.bf16ToFloat(Bytes.toBf16(amax / 127f));
        float id = d > 0 ? 1f / d : 0f;
        scale[b] = d;
        int sum = 0;
        for (int j = 0; j < 32; j += L) {
            IntVector v = (IntVector) FloatVector.fromArray(F, x, base + j).mul(id).add(RINT).sub(RINT)
                    .convert(VectorOperators.F2I, 0);
            sum += v.reduceLanes(VectorOperators.ADD);
            ((ShortVector) v.convertShape(VectorOperators.I2S, H, 0)).intoArray(q, base + j);
        }
        sums[b] = sum;
        return true;
    }

    /**
     * Mainline llama.cpp's Q8_0 ({@code -Dmoed.kernels.q8=llama}, for comparing logits with it): d = amax / 127 kept as
     * F16, q = roundf(x * 127 / amax). Scalar only: a comparison mode, not a speed path.
     */
    static void q8_0Mainline(float[] x, int length, short[] q, float[] scale, float[] sums) {
        for (int b = 0; b < length / 32; b++) {
            float amax = 0;
            for (int j = 0; j < 32; j++) {
                amax = Math.max(amax, Math.abs(x[b * 32 + j]));
            }
            float d = amax / 127f;
            float id = d != 0 ? 1f / d : 0f;
            scale[b] = Bytes.roundToF16(d);
            int sum = 0;
            for (int j = 0; j < 32; j++) {
                q[b * 32 + j] = (short) Quantize.roundf(x[b * 32 + j] * id);
                sum += q[b * 32 + j];
            }
            sums[b] = sum;
        }
    }

    /** Per Q8_0 block, for i in 0..7, the integers (2i, 16 + 2i) and (2i + 1, 17 + 2i) as two ints. */
    static void q8_0Pairs(short[] q, int length, int[] pairs) {
        int b = 0;
        if (PAIRS_32 != null) {
            for (; b < length / 32; b++) {
                ShortVector.fromArray(S2, q, 32 * b).rearrange(PAIRS_32).reinterpretAsInts().intoArray(pairs, 16 * b);
            }
        }
        for (; b < length / 32; b++) {
            for (int i = 0; i < 8; i++) {
                int k = 32 * b + 2 * i;
                pairs[16 * b + 2 * i] = (q[k] & 0xFFFF) | q[k + 16] << 16;
                pairs[16 * b + 2 * i + 1] = (q[k + 1] & 0xFFFF) | q[k + 17] << 16;
            }
        }
    }
}
