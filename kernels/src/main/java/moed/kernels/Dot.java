package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Dot products of one weight row (read in place from a {@link MemorySegment}) with a prepared
 * {@link Activation}, dispatched once per row to the weight type's {@link BlockFormat}. Each format has a fused Vector
 * API loop, written under the block layout it decodes (the float formats' are here, the others' in
 * {@link Block32Dots} and {@link KQuantDots}), and a scalar twin ({@link #scalar}) that is the definition the tests
 * compare against.
 *
 * <p>Vector width: 256 or 512 bits, one per JVM ({@link #floatSpecies}), chosen for the model by {@link KernelWidth}
 * or set with {@code -Dmoed.kernels.bits}; results are the same at both ({@link #CANON}). Narrower machines, or
 * {@code -Dmoed.kernels.scalar=true}, use the scalar twins.
 * Stateless and thread safe.
 */
public final class Dot {
    static final VectorSpecies<Float> F = floatSpecies(System.getProperty(KernelWidth.PROPERTY));
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

    /**
     * The one float width every kernel uses: {@code moed.kernels.bits} (256 or 512, clamped to what the machine has),
     * by default 256 bits. One width per JVM because mixing them costs more than either: the Vector API's shared
     * methods (FloatVector.fma and the like) then see two vector classes, and C2 boxes the loop-carried vectors of
     * the kernels it compiles afterwards (measured: the Q8_0 kernel allocated a box per block, and decode after a
     * 512-bit prefill ran at 7 instead of 12 tokens/s). So every species, float and integer, follows this one.
     * Without the property (no model chose, see {@link KernelWidth}), 256.
     */
    static VectorSpecies<Float> floatSpecies(String bits) {
        int max = FloatVector.SPECIES_PREFERRED.vectorBitSize();
        int want;
        try {
            want = bits == null ? 256 : Integer.parseInt(bits.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("moed.kernels.bits must be 256 or 512, got '" + bits + "'");
        }
        if (want != 256 && want != 512) {
            throw new IllegalArgumentException("moed.kernels.bits must be 256 or 512, got " + want);
        }
        return FloatVector.SPECIES_PREFERRED.withShape(VectorShape.forBitSize(Math.min(want, max)));
    }

    /** Describes the kernels in use, for start-up logs and benchmark reports. */
    public static String describe() {
        String why = KernelWidth.reason();
        if (why != null && !String.valueOf(F.vectorBitSize()).equals(System.getProperty(KernelWidth.PROPERTY))) {
            // The kernels had taken their width before the model chose (one width per JVM).
            why = "taken before this model was opened";
        }
        return VECTOR ? "Vector API, " + F.vectorBitSize() + "-bit (" + L + " float lanes; the machine has "
                + FloatVector.SPECIES_PREFERRED.vectorBitSize() + "; " + (why != null ? why : "set by moed.kernels.bits or its default") + ")"
                : "scalar (Vector API " + (L < 8 ? "too narrow: " + L + " lanes" : "disabled") + ")";
    }

    public static boolean vectorized() {
        return VECTOR;
    }

    /** Dot product of row {@code row} of {@code m} with the activation (prepared for {@code m.type()}). */
    public static float row(WeightMatrix m, int row, Activation a) {
        BlockFormat f = m.type().format();
        if (m.interleaved()) {
            // One row of sixteen interleaved ones (a test, a fallback): gathered back, then the row kernel.
            MemorySegment r = Interleaved.row(m, row);
            return VECTOR ? f.dot(r, 0, a, m.cols()) : f.scalarDot(r, 0, a, m.cols());
        }
        long off = row * m.rowBytes();
        return VECTOR ? f.dot(m.data(), off, a, m.cols()) : f.scalarDot(m.data(), off, a, m.cols());
    }

    /**
     * Rows r0 and r1 of m against one activation into {@code out[0..2)}, each bit-identical to {@link #row}: decode's
     * mat-vec takes rows in pairs where the format has a paired kernel ({@link #hasPaired}).
     */
    static void rowPair(WeightMatrix m, int r0, int r1, Activation a, float[] out) {
        if (VECTOR && !m.interleaved()) {
            m.type().format().dotPair(m.data(), r0 * m.rowBytes(), r1 * m.rowBytes(), a, m.cols(), out);
        } else {
            out[0] = row(m, r0, a);
            out[1] = row(m, r1, a);
        }
    }

    /** True when {@link #rowPair} has a paired kernel for this type (others make two single passes). */
    static boolean hasPaired(GgmlType t) {
        BlockFormat f = BlockFormat.find(t);
        return f != null && f.hasPaired();
    }

    /**
     * True when {@link #row4} has a tiled kernel for this type (others fall back to four single dot products). F16
     * shares each widened block between tokens; the integer kernels' widening is two instructions a block, and a
     * four-token version of them measured slower (register pressure) than four passes over a row that stays in L1.
     * F32 rows need no widening (and F32 matrices are small: routers), so four passes cost as little.
     */
    public static boolean hasTiled(GgmlType t) {
        BlockFormat f = BlockFormat.find(t);
        return f != null && f.hasTiled();
    }

    /**
     * Row {@code row} of m against four activations at once, for prefill and batched experts: each block of the
     * row is loaded and widened once and used by four tokens, so conversion work is shared. The arithmetic for
     * each token is exactly that of {@link #row} (same operations in the same order), so results never depend
     * on how tokens are grouped into batches.
     */
    public static void row4(WeightMatrix m, int row, Activation a0, Activation a1, Activation a2, Activation a3,
                            float[] out) {
        if (m.interleaved()) {
            m.type().format().row4(Interleaved.row(m, row), 0, m.cols(), a0, a1, a2, a3, out);
            return;
        }
        m.type().format().row4(m.data(), row * m.rowBytes(), m.cols(), a0, a1, a2, a3, out);
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
        // The canonical 16 lanes (see sum16): a (and b below 512 bits) per token.
        for (; i + CANON <= n; i += CANON) {
            FloatVector w = halvesToFloats(s, off + i * 2L);
            a0 = w.fma(FloatVector.fromArray(F, x0, i), a0);
            a1 = w.fma(FloatVector.fromArray(F, x1, i), a1);
            a2 = w.fma(FloatVector.fromArray(F, x2, i), a2);
            a3 = w.fma(FloatVector.fromArray(F, x3, i), a3);
            if (L < CANON) {
                FloatVector v = halvesToFloats(s, off + (i + L) * 2L);
                b0 = v.fma(FloatVector.fromArray(F, x0, i + L), b0);
                b1 = v.fma(FloatVector.fromArray(F, x1, i + L), b1);
                b2 = v.fma(FloatVector.fromArray(F, x2, i + L), b2);
                b3 = v.fma(FloatVector.fromArray(F, x3, i + L), b3);
            }
        }
        // Lanes out through an array, not four sum16 calls: in this big method C2 stops inlining them
        // (NodeCountInliningCutoff), and vectors passed to a call it did not inline were boxed (F16 mat-mat 3x slower).
        float[] lanes = LANES.get();
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, CANON);
        a2.intoArray(lanes, 2 * CANON);
        a3.intoArray(lanes, 3 * CANON);
        if (L < CANON) {
            b0.intoArray(lanes, L);
            b1.intoArray(lanes, CANON + L);
            b2.intoArray(lanes, 2 * CANON + L);
            b3.intoArray(lanes, 3 * CANON + L);
        }
        out[0] = f16Tail(sum16(lanes, 0), s, off, x0, i, n);
        out[1] = f16Tail(sum16(lanes, CANON), s, off, x1, i, n);
        out[2] = f16Tail(sum16(lanes, 2 * CANON), s, off, x2, i, n);
        out[3] = f16Tail(sum16(lanes, 3 * CANON), s, off, x3, i, n);
    }

    private static float f16Tail(float acc, MemorySegment s, long off, float[] x, int i, int n) {
        for (; i < n; i++) {
            acc += Bytes.f16(s, off + i * 2L) * x[i];
        }
        return acc;
    }


    /** The scalar definition of {@link #row} ({@link BlockFormat#scalarDot}), which the tests compare against. */
    public static float scalar(GgmlType t, MemorySegment s, long off, Activation a, int n) {
        return t.format().scalarDot(s, off, a, n);
    }

    /**
     * Results must not depend on the vector width (greedy tokens are the same at 256 and 512 bits), so every float
     * kernel accumulates in the same 16 logical lanes: element e of a chunk of 16 in lane e, as two 8-lane vectors
     * at 256 bits (lanes 0-7 and 8-15) or one at 512, and reduces them with {@link #sum16}. Each lane then sees the
     * same FMAs in the same order at both widths.
     */
    static final int CANON = 16;
    private static final VectorShuffle<Float> SWAP_HALVES = VECTOR && L == CANON ? VectorShuffle.fromOp(F, i -> i ^ 8) : null;

    /**
     * The 16 canonical lanes' sum: lane k + lane k+8 for k = 0..7, then those eight added in order. {@code hi} holds
     * lanes 8-15 below 512 bits; at 512 {@code lo} holds all 16 and {@code hi} is unused.
     */
    static float sum16(FloatVector lo, FloatVector hi) {
        FloatVector folded = L < CANON ? lo.add(hi) : lo.add(lo.rearrange(SWAP_HALVES));
        return sum8(folded);
    }

    /** {@link #sum16} of 16 canonical lanes stored at lanes[o..o+16): the same adds in the same order. */
    static float sum16(float[] lanes, int o) {
        float s = 0;
        for (int k = 0; k < 8; k++) {
            s += lanes[o + k] + lanes[o + k + 8];
        }
        return s;
    }

    /** Per thread: the four tokens' canonical lanes of {@link #row4}. */
    private static final ThreadLocal<float[]> LANES = ThreadLocal.withInitial(() -> new float[4 * CANON]);

    /**
     * Lanes 0-7 added in lane order. Not {@code reduceLanes(ADD)}: its order is unspecified, and the interpreter and
     * the JIT-compiled intrinsic round differently, so the same row could give two results in one run, and greedy
     * tokens could depend on when the JIT kicked in. Once per row, the cost is nothing. Eight lanes at any width: the
     * 32-weight-block kernels keep their sums in lanes 0-7 (see {@link Int16Dot}), the float kernels fold theirs there.
     */
    static float sum8(FloatVector v) {
        float s = 0;
        for (int i = 0; i < 8; i++) {
            s += v.lane(i);
        }
        return s;
    }

    static float f32(MemorySegment s, long off, float[] x, int n) {
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        int i = 0;
        // The canonical 16 lanes (see sum16); below 512 bits their two halves also hide the FMA latency.
        for (; i + CANON <= n; i += CANON) {
            acc0 = FloatVector.fromMemorySegment(F, s, off + i * 4L, LE).fma(FloatVector.fromArray(F, x, i), acc0);
            if (L < CANON) {
                acc1 = FloatVector.fromMemorySegment(F, s, off + (i + L) * 4L, LE).fma(FloatVector.fromArray(F, x, i + L), acc1);
            }
        }
        float sum = sum16(acc0, acc1);
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
        for (; i + CANON <= n; i += CANON) {
            acc0 = halvesToFloats(s, off + i * 2L).fma(FloatVector.fromArray(F, xh, i), acc0);
            if (L < CANON) {
                acc1 = halvesToFloats(s, off + (i + L) * 2L).fma(FloatVector.fromArray(F, xh, i + L), acc1);
            }
        }
        float sum = sum16(acc0, acc1);
        for (; i < n; i++) {
            sum += Bytes.f16(s, off + i * 2L) * xh[i];
        }
        return sum;
    }

    /** L bf16 values widened to floats: the 16 bits become a float's top half. */
    static FloatVector bf16ToFloats(MemorySegment s, long off) {
        IntVector h = (IntVector) ShortVector.fromMemorySegment(H, s, off, LE).convertShape(VectorOperators.S2I, I.withShape(F.vectorShape()), 0);
        return h.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    static float bf16(MemorySegment s, long off, float[] x, int n) {
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = acc0;
        int i = 0;
        for (; i + CANON <= n; i += CANON) {
            acc0 = bf16ToFloats(s, off + i * 2L).fma(FloatVector.fromArray(F, x, i), acc0);
            if (L < CANON) {
                acc1 = bf16ToFloats(s, off + (i + L) * 2L).fma(FloatVector.fromArray(F, x, i + L), acc1);
            }
        }
        float sum = sum16(acc0, acc1);
        for (; i < n; i++) {
            sum += Bytes.bf16(s, off + i * 2L) * x[i];
        }
        return sum;
    }

}
