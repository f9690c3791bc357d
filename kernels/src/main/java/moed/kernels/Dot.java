package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Dot products of one weight row (read in place from a {@link MemorySegment}) with a prepared
 * {@link Activation}. Each format has a fused Vector API loop, written under the block layout it decodes,
 * and a scalar twin ({@link #scalar}) that is the definition the tests compare against.
 *
 * <p>Vector width: the platform's preferred float species when it has at least 8 lanes (AVX2: 8, AVX-512: 16);
 * narrower machines, or {@code -Dmoed.kernels.scalar=true}, use the scalar twins. Stateless and thread safe.
 */
public final class Dot {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();
    static final boolean VECTOR = L >= 8 && !Boolean.getBoolean("moed.kernels.scalar");
    /** Bytes that widen to one float vector. */
    static final VectorSpecies<Byte> B = VECTOR ? ByteVector.SPECIES_MAX.withShape(VectorShape.forBitSize(L * 8)) : null;
    /** Halves that widen to one float vector. */
    static final VectorSpecies<Short> H = VECTOR ? ShortVector.SPECIES_MAX.withShape(VectorShape.forBitSize(L * 16)) : null;
    static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private Dot() {
    }

    /** Describes the kernels in use, for start-up logs and benchmark reports. */
    public static String describe() {
        return VECTOR ? "Vector API, " + F.vectorBitSize() + "-bit (" + L + " float lanes)"
                : "scalar (Vector API " + (L < 8 ? "too narrow: " + L + " lanes" : "disabled") + ")";
    }

    public static boolean vectorized() {
        return VECTOR;
    }

    /** Dot product of row {@code row} of {@code m} with the activation (prepared for {@code m.type()}). */
    public static float row(WeightMatrix m, int row, Activation a) {
        MemorySegment s = m.data();
        long off = row * m.rowBytes();
        int n = m.cols();
        if (!VECTOR) {
            return scalar(m.type(), s, off, a, n);
        }
        return switch (m.type()) {
            case F32 -> f32(s, off, a.x, n);
            case F16 -> f16(s, off, a.f16, n);
            case BF16 -> bf16(s, off, a.x, n);
            case Q8_0 -> q8_0(s, off, a, n / 32);
            case Q4_0 -> q4_0(s, off, a, n / 32);
            case Q4_K -> q4_k(s, off, a, n / 256);
            case Q6_K -> q6_k(s, off, a, n / 256);
            default -> scalar(m.type(), s, off, a, n);
        };
    }

    /** True when {@link #row4} has a tiled kernel for this type (others fall back to four single dot products). */
    public static boolean hasTiled(GgmlType t) {
        return VECTOR && (L == 8 || L == 16) && (t == GgmlType.Q8_0 || t == GgmlType.F16 || t == GgmlType.F32);
    }

    /**
     * Row {@code row} of m against four activations at once, for prefill and batched experts: each block of the
     * row is loaded and widened once and used by four tokens, so conversion work is shared. The arithmetic for
     * each token is exactly that of {@link #row} (same operations in the same order), so results never depend
     * on how tokens are grouped into batches.
     */
    public static void row4(WeightMatrix m, int row, Activation a0, Activation a1, Activation a2, Activation a3,
                            float[] out) {
        MemorySegment s = m.data();
        long off = row * m.rowBytes();
        int n = m.cols();
        switch (hasTiled(m.type()) ? m.type() : GgmlType.I8) {
            case Q8_0 -> q8_0x4(s, off, a0, a1, a2, a3, n / 32, out);
            case F16 -> f16x4(s, off, a0.f16, a1.f16, a2.f16, a3.f16, n, out);
            case F32 -> f32x4(s, off, a0.x, a1.x, a2.x, a3.x, n, out);
            default -> {
                out[0] = row(m, row, a0);
                out[1] = row(m, row, a1);
                out[2] = row(m, row, a2);
                out[3] = row(m, row, a3);
            }
        }
    }

    private static FloatVector q8Block(FloatVector w0, FloatVector w1, FloatVector w2, FloatVector w3, float[] q, int o) {
        FloatVector p = FloatVector.zero(F);
        p = w0.fma(FloatVector.fromArray(F, q, o), p);
        p = w1.fma(FloatVector.fromArray(F, q, o + L), p);
        if (L == 8) {
            p = w2.fma(FloatVector.fromArray(F, q, o + 2 * L), p);
            p = w3.fma(FloatVector.fromArray(F, q, o + 3 * L), p);
        }
        return p;
    }

    static void q8_0x4(MemorySegment s, long off, Activation a0, Activation a1, Activation a2, Activation a3,
                       int blocks, float[] out) {
        FloatVector c0 = FloatVector.zero(F);
        FloatVector c1 = c0;
        FloatVector c2 = c0;
        FloatVector c3 = c0;
        for (int b = 0; b < blocks; b++) {
            long bo = off + b * 34L;
            float dw = Bytes.f16(s, bo);
            FloatVector w0 = (FloatVector) ByteVector.fromMemorySegment(B, s, bo + 2, LE).convertShape(VectorOperators.B2F, F, 0);
            FloatVector w1 = (FloatVector) ByteVector.fromMemorySegment(B, s, bo + 2 + L, LE).convertShape(VectorOperators.B2F, F, 0);
            FloatVector w2 = w0;
            FloatVector w3 = w0;
            if (L == 8) {
                w2 = (FloatVector) ByteVector.fromMemorySegment(B, s, bo + 2 + 2 * L, LE).convertShape(VectorOperators.B2F, F, 0);
                w3 = (FloatVector) ByteVector.fromMemorySegment(B, s, bo + 2 + 3 * L, LE).convertShape(VectorOperators.B2F, F, 0);
            }
            int o = b * 32;
            c0 = q8Block(w0, w1, w2, w3, a0.q8, o).fma(FloatVector.broadcast(F, dw * a0.q8Scale[b]), c0);
            c1 = q8Block(w0, w1, w2, w3, a1.q8, o).fma(FloatVector.broadcast(F, dw * a1.q8Scale[b]), c1);
            c2 = q8Block(w0, w1, w2, w3, a2.q8, o).fma(FloatVector.broadcast(F, dw * a2.q8Scale[b]), c2);
            c3 = q8Block(w0, w1, w2, w3, a3.q8, o).fma(FloatVector.broadcast(F, dw * a3.q8Scale[b]), c3);
        }
        out[0] = sum(c0);
        out[1] = sum(c1);
        out[2] = sum(c2);
        out[3] = sum(c3);
    }

    static void f16x4(MemorySegment s, long off, float[] x0, float[] x1, float[] x2, float[] x3, int n, float[] out) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector b0 = a0;
        FloatVector a1 = a0;
        FloatVector b1 = a0;
        FloatVector a2 = a0;
        FloatVector b2 = a0;
        FloatVector a3 = a0;
        FloatVector b3 = a0;
        int i = 0;
        for (; i + 2 * L <= n; i += 2 * L) {
            FloatVector w = halvesToFloats(s, off + i * 2L);
            FloatVector v = halvesToFloats(s, off + (i + L) * 2L);
            a0 = w.fma(FloatVector.fromArray(F, x0, i), a0);
            b0 = v.fma(FloatVector.fromArray(F, x0, i + L), b0);
            a1 = w.fma(FloatVector.fromArray(F, x1, i), a1);
            b1 = v.fma(FloatVector.fromArray(F, x1, i + L), b1);
            a2 = w.fma(FloatVector.fromArray(F, x2, i), a2);
            b2 = v.fma(FloatVector.fromArray(F, x2, i + L), b2);
            a3 = w.fma(FloatVector.fromArray(F, x3, i), a3);
            b3 = v.fma(FloatVector.fromArray(F, x3, i + L), b3);
        }
        out[0] = f16Tail(sum(a0.add(b0)), s, off, x0, i, n);
        out[1] = f16Tail(sum(a1.add(b1)), s, off, x1, i, n);
        out[2] = f16Tail(sum(a2.add(b2)), s, off, x2, i, n);
        out[3] = f16Tail(sum(a3.add(b3)), s, off, x3, i, n);
    }

    private static float f16Tail(float acc, MemorySegment s, long off, float[] x, int i, int n) {
        for (; i < n; i++) {
            acc += Bytes.f16(s, off + i * 2L) * x[i];
        }
        return acc;
    }

    static void f32x4(MemorySegment s, long off, float[] x0, float[] x1, float[] x2, float[] x3, int n, float[] out) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector b0 = a0;
        FloatVector a1 = a0;
        FloatVector b1 = a0;
        FloatVector a2 = a0;
        FloatVector b2 = a0;
        FloatVector a3 = a0;
        FloatVector b3 = a0;
        int i = 0;
        for (; i + 2 * L <= n; i += 2 * L) {
            FloatVector w = FloatVector.fromMemorySegment(F, s, off + i * 4L, LE);
            FloatVector v = FloatVector.fromMemorySegment(F, s, off + (i + L) * 4L, LE);
            a0 = w.fma(FloatVector.fromArray(F, x0, i), a0);
            b0 = v.fma(FloatVector.fromArray(F, x0, i + L), b0);
            a1 = w.fma(FloatVector.fromArray(F, x1, i), a1);
            b1 = v.fma(FloatVector.fromArray(F, x1, i + L), b1);
            a2 = w.fma(FloatVector.fromArray(F, x2, i), a2);
            b2 = v.fma(FloatVector.fromArray(F, x2, i + L), b2);
            a3 = w.fma(FloatVector.fromArray(F, x3, i), a3);
            b3 = v.fma(FloatVector.fromArray(F, x3, i + L), b3);
        }
        out[0] = f32Tail(sum(a0.add(b0)), s, off, x0, i, n);
        out[1] = f32Tail(sum(a1.add(b1)), s, off, x1, i, n);
        out[2] = f32Tail(sum(a2.add(b2)), s, off, x2, i, n);
        out[3] = f32Tail(sum(a3.add(b3)), s, off, x3, i, n);
    }

    private static float f32Tail(float acc, MemorySegment s, long off, float[] x, int i, int n) {
        for (; i < n; i++) {
            acc += s.get(Bytes.LE_FLOAT, off + i * 4L) * x[i];
        }
        return acc;
    }

    /**
     * The scalar definition: dequantize with the reference and multiply by the same activation form the
     * vector kernel reads (Q8_0 values for Q8_0-family weights, F16-rounded values for F16).
     */
    public static float scalar(GgmlType t, MemorySegment s, long off, Activation a, int n) {
        float[] w = SCRATCH.get();
        if (w.length < t.blockSize) {
            w = new float[t.blockSize];
            SCRATCH.set(w);
        }
        switch (t) {
            case Q8_0, Q4_0, Q5_0, Q4_1, Q5_1 -> {
                // Integer sums per block times both scales, as ggml's vec_dot_q*_q8_0 do.
                float sum = 0;
                for (int b = 0; b < n / 32; b++) {
                    Dequantize.row(t, s, off + (long) b * t.blockBytes, w, 0, 32);
                    float bs = 0;
                    for (int j = 0; j < 32; j++) {
                        bs += w[j] * a.q8[b * 32 + j];
                    }
                    sum += bs * a.q8Scale[b];
                }
                return sum;
            }
            default -> {
                float[] xs = t == GgmlType.F16 ? a.f16 : a.x;
                float sum = 0;
                for (int b = 0; b < n / t.blockSize; b++) {
                    Dequantize.row(t, s, off + (long) b * t.blockBytes, w, 0, t.blockSize);
                    for (int j = 0; j < t.blockSize; j++) {
                        sum += w[j] * xs[b * t.blockSize + j];
                    }
                }
                return sum;
            }
        }
    }

    /**
     * Adds a vector's lanes in lane order. Not {@code reduceLanes(ADD)}: its order is unspecified, and the
     * interpreter and the JIT-compiled intrinsic round differently, so the same row could give two results in
     * one run, and greedy tokens could depend on when the JIT kicked in. Once per row, the cost is nothing.
     */
    static float sum(FloatVector v) {
        float s = 0;
        for (int i = 0; i < L; i++) {
            s += v.lane(i);
        }
        return s;
    }

    private static final ThreadLocal<float[]> SCRATCH = ThreadLocal.withInitial(() -> new float[256]);

    static float f32(MemorySegment s, long off, float[] x, int n) {
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        int i = 0;
        // Two accumulators hide the FMA latency; more buys nothing on a memory-bound loop.
        for (; i + 2 * L <= n; i += 2 * L) {
            acc0 = FloatVector.fromMemorySegment(F, s, off + i * 4L, LE).fma(FloatVector.fromArray(F, x, i), acc0);
            acc1 = FloatVector.fromMemorySegment(F, s, off + (i + L) * 4L, LE).fma(FloatVector.fromArray(F, x, i + L), acc1);
        }
        float sum = sum(acc0.add(acc1));
        for (; i < n; i++) {
            sum += s.get(Bytes.LE_FLOAT, off + i * 4L) * x[i];
        }
        return sum;
    }

    /**
     * Widens L halves to floats with integer operations (the Vector API has no half type here): move the
     * exponent and mantissa into float position and rescale by 2^112, which also handles subnormals; then put
     * the sign back. Infinities and NaNs become large finite values, which weights never hold.
     */
    static FloatVector halvesToFloats(MemorySegment s, long off) {
        IntVector h = (IntVector) ShortVector.fromMemorySegment(H, s, off, LE).convertShape(VectorOperators.S2I, I.withShape(F.vectorShape()), 0);
        IntVector magnitude = h.and(0x7fff).lanewise(VectorOperators.LSHL, 13);
        IntVector sign = h.and(0x8000).lanewise(VectorOperators.LSHL, 16);
        FloatVector f = magnitude.reinterpretAsFloats().mul(0x1p112f);
        return f.reinterpretAsInts().or(sign).reinterpretAsFloats();
    }

    // F16 rows against F16-rounded activations (ggml_vec_dot_f16 with f32 accumulation).
    static float f16(MemorySegment s, long off, float[] xh, int n) {
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        int i = 0;
        for (; i + 2 * L <= n; i += 2 * L) {
            acc0 = halvesToFloats(s, off + i * 2L).fma(FloatVector.fromArray(F, xh, i), acc0);
            acc1 = halvesToFloats(s, off + (i + L) * 2L).fma(FloatVector.fromArray(F, xh, i + L), acc1);
        }
        float sum = sum(acc0.add(acc1));
        for (; i < n; i++) {
            sum += Bytes.f16(s, off + i * 2L) * xh[i];
        }
        return sum;
    }

    static float bf16(MemorySegment s, long off, float[] x, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (; i + L <= n; i += L) {
            IntVector h = (IntVector) ShortVector.fromMemorySegment(H, s, off + i * 2L, LE).convertShape(VectorOperators.S2I, I.withShape(F.vectorShape()), 0);
            FloatVector w = h.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            acc = w.fma(FloatVector.fromArray(F, x, i), acc);
        }
        float sum = sum(acc);
        for (; i < n; i++) {
            sum += Bytes.bf16(s, off + i * 2L) * x[i];
        }
        return sum;
    }

    // block_q8_0 { half d; int8 qs[32]; } against Q8_0 activations. Per block the integer products are summed
    // lane-wise (exact in float: |sum| < 2^24) and scaled by dx*dy into the accumulator, as ggml's AVX2 loop does.
    static float q8_0(MemorySegment s, long off, Activation a, int blocks) {
        float[] q = a.q8;
        float[] qd = a.q8Scale;
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < blocks; b++) {
            long bo = off + b * 34L;
            float d = Bytes.f16(s, bo) * qd[b];
            FloatVector p = FloatVector.zero(F);
            for (int k = 0; k < 32; k += L) {
                FloatVector w = (FloatVector) ByteVector.fromMemorySegment(B, s, bo + 2 + k, LE).convertShape(VectorOperators.B2F, F, 0);
                p = w.fma(FloatVector.fromArray(F, q, b * 32 + k), p);
            }
            acc = p.fma(FloatVector.broadcast(F, d), acc);
        }
        return sum(acc);
    }

    // block_q4_0 { half d; uint8 qs[16]; }: byte j holds weight j (low nibble) and j+16 (high), offset 8.
    static float q4_0(MemorySegment s, long off, Activation a, int blocks) {
        float[] q = a.q8;
        float[] qd = a.q8Scale;
        FloatVector acc = FloatVector.zero(F);
        VectorSpecies<Integer> iv = I.withShape(F.vectorShape());
        for (int b = 0; b < blocks; b++) {
            long bo = off + b * 18L;
            float d = Bytes.f16(s, bo) * qd[b];
            FloatVector p = FloatVector.zero(F);
            for (int k = 0; k < 16; k += L) {
                IntVector bytes = (IntVector) ByteVector.fromMemorySegment(B, s, bo + 2 + k, LE).convertShape(VectorOperators.B2I, iv, 0);
                FloatVector lo = (FloatVector) bytes.and(0xF).sub(8).convertShape(VectorOperators.I2F, F, 0);
                FloatVector hi = (FloatVector) bytes.lanewise(VectorOperators.ASHR, 4).and(0xF).sub(8).convertShape(VectorOperators.I2F, F, 0);
                p = lo.fma(FloatVector.fromArray(F, q, b * 32 + k), p);
                p = hi.fma(FloatVector.fromArray(F, q, b * 32 + 16 + k), p);
            }
            acc = p.fma(FloatVector.broadcast(F, d), acc);
        }
        return sum(acc);
    }

    // block_q4_K { half d; half dmin; uint8 scales[12]; uint8 qs[128]; }: eight 32-weight sub-blocks, each
    // w = d*sc*q - dmin*m. The min term needs only the activation's sum over the sub-block, precomputed once.
    static float q4_k(MemorySegment s, long off, Activation a, int blocks) {
        float[] x = a.x;
        float[] sums = a.sum32;
        VectorSpecies<Integer> iv = I.withShape(F.vectorShape());
        float total = 0;
        for (int b = 0; b < blocks; b++) {
            long bo = off + b * 144L;
            float d = Bytes.f16(s, bo);
            float dmin = Bytes.f16(s, bo + 2);
            // The 12 packed scale bytes in two reads, decoded with shifts: byte-by-byte segment reads cost more than
            // the block's vector arithmetic (measured: 1.9 -> 2.4 GB/s on one thread, same results).
            long sc8 = s.get(Bytes.LE_LONG, bo + 4);
            int sc4 = s.get(Bytes.LE_INT, bo + 12);
            long qs = bo + 16;
            int xb = b * 256;
            float mins = 0;
            FloatVector acc = FloatVector.zero(F);
            for (int j = 0; j < 4; j++) {
                mins += minK4(sc8, sc4, 2 * j) * sums[(xb >> 5) + 2 * j]
                        + minK4(sc8, sc4, 2 * j + 1) * sums[(xb >> 5) + 2 * j + 1];
                FloatVector p1 = FloatVector.zero(F);
                FloatVector p2 = FloatVector.zero(F);
                for (int k = 0; k < 32; k += L) {
                    IntVector bytes = (IntVector) ByteVector.fromMemorySegment(B, s, qs + 32L * j + k, LE).convertShape(VectorOperators.B2I, iv, 0);
                    FloatVector lo = (FloatVector) bytes.and(0xF).convertShape(VectorOperators.I2F, F, 0);
                    FloatVector hi = (FloatVector) bytes.lanewise(VectorOperators.ASHR, 4).and(0xF).convertShape(VectorOperators.I2F, F, 0);
                    p1 = lo.fma(FloatVector.fromArray(F, x, xb + 64 * j + k), p1);
                    p2 = hi.fma(FloatVector.fromArray(F, x, xb + 64 * j + 32 + k), p2);
                }
                acc = p1.fma(FloatVector.broadcast(F, d * scaleK4(sc8, sc4, 2 * j)), acc);
                acc = p2.fma(FloatVector.broadcast(F, d * scaleK4(sc8, sc4, 2 * j + 1)), acc);
            }
            total += sum(acc) - dmin * mins;
        }
        return total;
    }

    /**
     * Q4_K sub-block i's 6-bit scale from its 12 packed scale bytes, given as bytes 0-7 (a long) and 8-11 (an int):
     * the same values as {@link Dequantize#scaleMinK4}, without a memory read per value.
     */
    static int scaleK4(long b0to7, int b8to11, int i) {
        return i < 4 ? (int) (b0to7 >>> (8 * i)) & 63
                : ((b8to11 >>> (8 * (i - 4))) & 0xF) | ((int) (b0to7 >>> (8 * (i - 4) + 6)) & 3) << 4;
    }

    static int minK4(long b0to7, int b8to11, int i) {
        return i < 4 ? (int) (b0to7 >>> (8 * (i + 4))) & 63
                : ((b8to11 >>> (8 * (i - 4) + 4)) & 0xF) | ((int) (b0to7 >>> (8 * i + 6)) & 3) << 4;
    }

    // block_q6_K { uint8 ql[128]; uint8 qh[64]; int8 scales[16]; half d; }: in each 128-weight half, byte l of
    // ql/qh carries weights l, l+32, l+64, l+96; 4 low bits from ql, 2 high bits from qh, offset 32.
    static float q6_k(MemorySegment s, long off, Activation a, int blocks) {
        float[] x = a.x;
        VectorSpecies<Integer> iv = I.withShape(F.vectorShape());
        float total = 0;
        for (int b = 0; b < blocks; b++) {
            long bo = off + b * 210L;
            float d = Bytes.f16(s, bo + 208);
            FloatVector acc = FloatVector.zero(F);
            for (int n = 0; n < 2; n++) {
                long ql = bo + 64L * n;
                long qh = bo + 128 + 32L * n;
                // This half's 8 signed scales in one read; byte reads per use cost more than the arithmetic.
                long scales = s.get(Bytes.LE_LONG, bo + 192 + 8L * n);
                int xb = b * 256 + n * 128;
                for (int l = 0; l < 32; l += L) {
                    int is = l / 16;
                    IntVector a0 = (IntVector) ByteVector.fromMemorySegment(B, s, ql + l, LE).convertShape(VectorOperators.B2I, iv, 0);
                    IntVector a1 = (IntVector) ByteVector.fromMemorySegment(B, s, ql + l + 32, LE).convertShape(VectorOperators.B2I, iv, 0);
                    IntVector h = (IntVector) ByteVector.fromMemorySegment(B, s, qh + l, LE).convertShape(VectorOperators.B2I, iv, 0);
                    IntVector q1 = a0.and(0xF).or(h.and(3).lanewise(VectorOperators.LSHL, 4)).sub(32);
                    IntVector q2 = a1.and(0xF).or(h.lanewise(VectorOperators.ASHR, 2).and(3).lanewise(VectorOperators.LSHL, 4)).sub(32);
                    IntVector q3 = a0.lanewise(VectorOperators.ASHR, 4).and(0xF).or(h.lanewise(VectorOperators.ASHR, 4).and(3).lanewise(VectorOperators.LSHL, 4)).sub(32);
                    IntVector q4 = a1.lanewise(VectorOperators.ASHR, 4).and(0xF).or(h.lanewise(VectorOperators.ASHR, 6).and(3).lanewise(VectorOperators.LSHL, 4)).sub(32);
                    acc = ((FloatVector) q1.convertShape(VectorOperators.I2F, F, 0)).mul(FloatVector.fromArray(F, x, xb + l))
                            .fma(FloatVector.broadcast(F, d * (byte) (scales >>> (8 * is))), acc);
                    acc = ((FloatVector) q2.convertShape(VectorOperators.I2F, F, 0)).mul(FloatVector.fromArray(F, x, xb + l + 32))
                            .fma(FloatVector.broadcast(F, d * (byte) (scales >>> (8 * (is + 2)))), acc);
                    acc = ((FloatVector) q3.convertShape(VectorOperators.I2F, F, 0)).mul(FloatVector.fromArray(F, x, xb + l + 64))
                            .fma(FloatVector.broadcast(F, d * (byte) (scales >>> (8 * (is + 4)))), acc);
                    acc = ((FloatVector) q4.convertShape(VectorOperators.I2F, F, 0)).mul(FloatVector.fromArray(F, x, xb + l + 96))
                            .fma(FloatVector.broadcast(F, d * (byte) (scales >>> (8 * (is + 6)))), acc);
                }
            }
            total += sum(acc);
        }
        return total;
    }
}
