package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Everything moed knows about one weight format it computes, in one place (as ggml's {@code type_traits} entry): the
 * block layout, the activation form its dot product reads ({@link Activation.Form}, ggml's {@code vec_dot_type}),
 * the dot products (the fast one delegates to the format's Vector API kernel), the scalar reference dequantizer and,
 * where moed writes the format, the reference quantizer. {@link Dot}, {@link Activation}, {@link Dequantize} and
 * {@link Quantize} dispatch through it. Adding a format is one subclass, its line in {@link #ALL}, and its test; the
 * subclass states its layout in its constructor and writes its {@link #dot}, how one block dequantizes
 * ({@link #dequantizeBlock}) and, when constructed {@link #WRITTEN}, how one block quantizes ({@link #quantizeBlock});
 * the loops over blocks are here, once.
 *
 * <p>One final subclass per format, so a call site that sees one format (a model in one format, a test) is
 * devirtualised. The dot products dispatch once per row, never per block; the reference dequantizer and quantizer
 * call the format once per block, which is cheap next to the block's scalar arithmetic. Stateless and thread safe.
 */
abstract class BlockFormat {
    /** Weights per chunk that {@link #scalarDot} dequantizes at once for the float forms (a multiple of every block). */
    private static final int CHUNK = 256;
    private static final ThreadLocal<float[]> SCRATCH = ThreadLocal.withInitial(() -> new float[CHUNK]);

    /** Every format moed computes, in GGUF id order. */
    private static final List<BlockFormat> ALL = List.of(new F32Format(), new F16Format(), new Q4_0Format(),
            new Q4_1Format(), new Q5_0Format(), new Q5_1Format(), new Q8_0Format(), new Q2_KFormat(), new Q3_KFormat(),
            new Q4_KFormat(), new Q5_KFormat(), new Q6_KFormat(), new Q8_KFormat(), new IQ2_XXSFormat(),
            new IQ2_XSFormat(), new IQ3_XXSFormat(), new IQ1_SFormat(), new IQ4_NLFormat(), new IQ3_SFormat(),
            new IQ2_SFormat(), new IQ4_XSFormat(), new IQ1_MFormat(), new BF16Format(), new MXFP4Format());
    private static final BlockFormat[] BY_TYPE = new BlockFormat[GgmlType.values().length];

    static {
        for (BlockFormat f : ALL) {
            BY_TYPE[f.type.ordinal()] = f;
        }
    }

    /** The ggml type this format computes. */
    final GgmlType type;
    /** Weights in one block. */
    final int blockSize;
    /** Bytes in one block. */
    final int blockBytes;
    /** The form of the activation its dot products read, unless {@link #activation()} decides it later. */
    private final Activation.Form activation;

    /** The {@code written} argument of the constructor of a format moed writes (the others leave it out). */
    static final boolean WRITTEN = true;

    /** True when moed writes this format: it overrides {@link #quantizeBlock}. */
    private final boolean written;

    /** A format moed reads only. */
    BlockFormat(GgmlType type, int blockSize, int blockBytes, Activation.Form activation) {
        this(type, blockSize, blockBytes, activation, false);
    }

    /** A format moed also writes when {@code written} ({@link #WRITTEN}); it then overrides {@link #quantizeBlock}. */
    BlockFormat(GgmlType type, int blockSize, int blockBytes, Activation.Form activation, boolean written) {
        this.type = type;
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
        this.activation = activation;
        this.written = written;
    }

    /**
     * The form of the activation its dot products read. A format whose form depends on the vector width decides it
     * here, not in its constructor: every format is constructed when {@link KernelWidth} looks a model's types up,
     * before the width is chosen, and touching the kernels' species there would fix the width at its default.
     */
    Activation.Form activation() {
        return activation;
    }

    /** The format of type t, or null when moed cannot compute t. */
    static BlockFormat find(GgmlType t) {
        return BY_TYPE[t.ordinal()];
    }

    /** The formats moed computes, in GGUF id order. */
    static List<BlockFormat> all() {
        return ALL;
    }

    /**
     * Dot product of the {@code n} weights at byte {@code off} of {@code s} with the activation (prepared in
     * {@link #activation}'s form) by the format's Vector API kernel. Only called when {@link Dot#vectorized()}; the
     * formats without a kernel use {@link #scalarDot}.
     */
    abstract float dot(MemorySegment s, long off, Activation a, int n);

    /**
     * Four activations against one row into {@code out[0..4)}, each bit-identical to {@link #dot} (the scalar twin
     * when not vectorized). Formats with a tiled kernel ({@link #hasTiled}) share each widened block between the
     * four; the others make four passes over a row that stays in L1.
     */
    void row4(MemorySegment s, long off, int n, Activation a0, Activation a1, Activation a2, Activation a3, float[] out) {
        boolean vector = Dot.VECTOR;
        out[0] = vector ? dot(s, off, a0, n) : scalarDot(s, off, a0, n);
        out[1] = vector ? dot(s, off, a1, n) : scalarDot(s, off, a1, n);
        out[2] = vector ? dot(s, off, a2, n) : scalarDot(s, off, a2, n);
        out[3] = vector ? dot(s, off, a3, n) : scalarDot(s, off, a3, n);
    }

    /**
     * Two rows (at byte offsets off0 and off1) against one activation into {@code out[0..2)}, each bit-identical to
     * {@link #dot}. Formats with a paired kernel ({@link #hasPaired}) run the two rows' chains side by side.
     */
    void dotPair(MemorySegment s, long off0, long off1, Activation a, int n, float[] out) {
        out[0] = dot(s, off0, a, n);
        out[1] = dot(s, off1, a, n);
    }

    /** True when {@link #dotPair} is faster than two {@link #dot} calls. */
    boolean hasPaired() {
        return false;
    }

    /** True when {@link #row4} shares work between its four tokens (see {@link Dot#hasTiled}). */
    boolean hasTiled() {
        return false;
    }

    /**
     * The scalar definition of {@link #dot}: dequantize with the reference and multiply by the same activation form
     * the vector kernel reads (Q8_0 values for Q8_0-family weights, Q8_K values for K-quants, F16-rounded values for
     * F16). Per activation block, the weights times the activation's integers, then times the activation's block
     * scale: as ggml's vec_dot_q*_q8_0 (32 per scale) and vec_dot_q*_K_q8_K (256 per scale) do.
     */
    final float scalarDot(MemorySegment s, long off, Activation a, int n) {
        float[] w = SCRATCH.get();
        return switch (activation()) {
            case Q8_0, Q8_0_PAIRS, Q4_0_PAIRS -> perActivationBlock(s, off, n, 32, a.q8s, a.q8Scale, w);
            case Q8_K, Q8_K_NIBBLES, Q8_K_PLANES8, Q8_K_PLANES4, Q8_K_PAIRS -> perActivationBlock(s, off, n, 256, a.q8k, a.q8kScale, w);
            case F16, FLOAT -> {
                float[] xs = activation() == Activation.Form.F16 ? a.f16 : a.x;
                float sum = 0;
                for (int i = 0; i < n; i += CHUNK) {
                    int k = Math.min(CHUNK, n - i);
                    dequantize(s, off + (long) i / blockSize * blockBytes, w, 0, k / blockSize);
                    for (int j = 0; j < k; j++) {
                        sum += w[j] * xs[i + j];
                    }
                }
                yield sum;
            }
        };
    }

    private float perActivationBlock(MemorySegment s, long off, int n, int block, short[] q, float[] scale, float[] w) {
        float sum = 0;
        for (int b = 0; b < n / block; b++) {
            dequantize(s, off + (long) b * block / blockSize * blockBytes, w, 0, block / blockSize);
            float bs = 0;
            for (int j = 0; j < block; j++) {
                bs += w[j] * q[b * block + j];
            }
            sum += bs * scale[b];
        }
        return sum;
    }

    /**
     * The reference dequantizer: {@code blocks} blocks at byte {@code off} of {@code s} into
     * {@code y[o..o + blocks * blockSize)}, one {@link #dequantizeBlock} after another.
     */
    final void dequantize(MemorySegment s, long off, float[] y, int o, int blocks) {
        for (int b = 0; b < blocks; b++) {
            dequantizeBlock(s, off + (long) blockBytes * b, y, o + blockSize * b);
        }
    }

    /**
     * The reference dequantizer of one block: the block at byte {@code bo} of {@code s} into
     * {@code y[o..o + blockSize)}, written to be read next to ggml's {@code dequantize_row_*}.
     */
    abstract void dequantizeBlock(MemorySegment s, long bo, float[] y, int o);

    /** True when moed writes this format ({@link #quantize}). */
    final boolean canQuantize() {
        return written;
    }

    /**
     * The reference quantizer: {@code blocks} blocks of {@code x[xo..]} into {@code dst} at byte {@code off}, one
     * {@link #quantizeBlock} after another. Only where {@link #canQuantize}.
     */
    final void quantize(float[] x, int xo, int blocks, MemorySegment dst, long off) {
        if (!written) {
            throw new UnsupportedOperationException("moed cannot write " + type + " tensors");
        }
        for (int b = 0; b < blocks; b++) {
            quantizeBlock(x, xo + blockSize * b, dst, off + (long) blockBytes * b);
        }
    }

    /**
     * The reference quantizer of one block, following ggml's {@code quantize_row_*_ref} step by step:
     * {@code x[xo..xo + blockSize)} into the block at byte {@code bo} of {@code dst}. Overridden by the formats
     * constructed {@link #WRITTEN}, and only called on them.
     */
    void quantizeBlock(float[] x, int xo, MemorySegment dst, long bo) {
        throw new UnsupportedOperationException("moed cannot write " + type + " tensors");
    }

    /**
     * Makes a block of random bytes at {@code bo} a valid one, for tests and benchmarks: overwrites its scales with
     * small finite ones (random bits there could be huge, infinite or NaN). The float formats take a Gaussian value.
     */
    abstract void makeRandomBlockValid(MemorySegment s, long bo, SplittableRandom rnd);

    /** The half 0.01, the scale random blocks get. */
    static final short SMALL_SCALE = Float.floatToFloat16(0.01f);

    /**
     * True when its kernel measured faster at 512 bits than at 256 ({@link KernelWidth} weighs a model's formats by
     * it): the K-quant and float kernels use the full width, the 32-weight-block kernels do not.
     */
    boolean fasterAt512() {
        return false;
    }

    /**
     * True when its kernel measured as fast at one width as at the other, so that {@link KernelWidth} leaves its bytes
     * out of the vote: the grid formats, bound by their scalar decode (a dynamic quantization's IQ experts would
     * otherwise outvote its K-quant attention, which does gain at 512 bits).
     */
    boolean widthNeutral() {
        return false;
    }

    @Override
    public String toString() {
        return type + " format (" + blockSize + " weights in " + blockBytes + " bytes, " + activation + " activations)";
    }
}
