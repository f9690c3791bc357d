package moed.kernels;

/**
 * One activation vector prepared for dot products against weight rows. ggml does not multiply weights by
 * the float activations directly: for Q8_0-family weights (Q4_0 ... Q5_1, IQ4_NL, MXFP4) it first quantizes the activations to Q8_0
 * blocks, and for F16 weights it rounds them to F16 ({@code vec_dot_type} in ggml's CPU type traits).
 * moed follows it on purpose, so its logits agree with llama.cpp's; the prepared forms are computed once per
 * vector, not once per row.
 *
 * <p>Not thread safe to prepare; once prepared, any number of threads may read it.
 */
public final class Activation {
    /**
     * The forms a weight format's dot product reads ({@link BlockFormat#activation}; ggml's {@code vec_dot_type}):
     * the float values, the values rounded to F16, Q8_0 blocks (32 integers and a scale), or Q8_K blocks (256
     * integers, a scale and per-16 and per-32 sums).
     */
    public enum Form {
        FLOAT, F16, Q8_0, Q8_K,
        /** Q8_K and, at 512 bits, its integers in IQ4_XS's nibble order ({@link #q8kNibbleOrder}). */
        Q8_K_NIBBLES,
        /** Q8_K and, where {@link GridPlanes} run, its integers in IQ2_XXS's plane order ({@link #q8kPlanes8}). */
        Q8_K_PLANES8,
        /** Q8_K and, where {@link GridPlanes} run, its integers in IQ3_XXS's plane order ({@link #q8kPlanes4}). */
        Q8_K_PLANES4,
        /** Q8_K and its integers paired as {@link InterleavedQ4K} multiplies them ({@link #q8kPairs}). */
        Q8_K_PAIRS,
        /** Q8_0 and its integers paired as {@link InterleavedQ8_0} multiplies them ({@link #q8Pairs}). */
        Q8_0_PAIRS,
        /** Q8_0 and its integers paired as {@link InterleavedQ4_0} multiplies them ({@link #q4Pairs}, {@link #q4Offsets}). */
        Q4_0_PAIRS
    }

    private static final boolean MAINLINE_Q8 = "llama".equals(System.getProperty("moed.kernels.q8"));
    private final int capacity;
    /** The float values, valid for {@code length} entries. */
    public final float[] x;
    /** Q8_0 form: the integer values (-127..127) as 16-bit lanes, and one scale per 32. */
    public final short[] q8s;
    public final float[] q8Scale;
    /** Per 32: the sum of the integer values (ggml's Q8_1 keeps it, times the scale, for formats with minimums). */
    public final float[] q8Sum;
    /** F16 form: every value rounded to the nearest half. */
    public final float[] f16;
    /**
     * Q8_K form, ggml's {@code vec_dot_type} for the K-quants (moed's K-quant kernels read it): per 256 values one
     * float scale and integers in -127..127 (as 16-bit lanes), and the integer sum of each 32 (K-quant minimums are
     * applied against it).
     */
    public final short[] q8k;
    public final float[] q8kScale;
    public final float[] q8kSum32;
    /**
     * At 512 bits, the Q8_K integers of each 64 in the order IQ4_XS's kernel meets its weights: the low nibbles of two
     * 32-weight sub-blocks (values 0-15 and 32-47), then their high nibbles (16-31 and 48-63). Null at 256 bits.
     */
    public final short[] q8kNibbleOrder;
    /**
     * Where {@link GridPlanes} run, the Q8_K integers in the order a grid's planes come: for grid points of eight
     * values, per 512 values, for plane j (the j-th value of each eight) the 64 points' values, even points then odd
     * ({@link GridPlanes#layOut}); for points of four, the same per 256 with four planes. Null elsewhere.
     */
    public final short[] q8kPlanes8;
    public final short[] q8kPlanes4;
    /**
     * The Q8_K integers of each four (k, k + 1, k + 2, k + 3) as two ints, (k, k + 2) and (k + 1, k + 3), each pair
     * two 16-bit halves, low first: broadcast as ints, they face the two weights a 32-bit lane of
     * {@link Interleaved}'s Q4_K layout holds in its 16-bit halves.
     */
    public final int[] q8kPairs;
    /**
     * Per Q8_0 block, for i in 0..7: the integers (2i, 16 + 2i) and (2i + 1, 17 + 2i) as two ints of two 16-bit
     * halves, low first ({@link InterleavedQ8_0}).
     */
    public final int[] q8Pairs;
    /** The Q8_0 integers paired as {@link #q8kPairs} pairs Q8_K's: (k, k + 2) and (k + 1, k + 3) of each four. */
    public final int[] q4Pairs;
    /**
     * Per Q8_0 block and pair of lanes (2P, 2P + 1): eight times each lane's activation sum (lane i: integers 2i, 2i + 1,
     * 16 + 2i, 17 + 2i), as two 16-bit halves, low first: Q4_0's offset of 8 per weight, taken off per lane.
     */
    public final int[] q4Offsets;
    /**
     * Per 16: the sum of the Q8_K integers (at most 16 * 127, so 16 bits hold it; Q2_K's minimums are applied
     * against it), padded for a kernel that reads a whole short vector from the last block's sums.
     */
    public final short[] q8kSum16;
    private int length;
    private boolean q8Ready;
    private boolean f16Ready;
    private boolean q8kReady;
    private boolean nibblesReady;
    private boolean planes8Ready;
    private boolean planes4Ready;
    private boolean pairsReady;
    private boolean q8PairsReady;
    private boolean q4PairsReady;

    public Activation(int capacity) {
        this.capacity = capacity;
        int padded = (capacity + 31) / 32 * 32;
        this.x = new float[padded];
        this.q8Scale = new float[padded / 32];
        this.q8Sum = new float[padded / 32];
        this.q8s = new short[padded + Int16Dot.READ_PAST];
        this.f16 = new float[padded];
        int padded256 = (capacity + 255) / 256 * 256;
        this.q8k = new short[padded256 + Int16Dot.READ_PAST];
        this.q8kScale = new float[padded256 / 256];
        // Padded by 8: the K-quant kernels read the sums of a super-block as one float vector (16 lanes at 512 bits).
        this.q8kSum32 = new float[padded256 / 32 + 8];
        this.q8kSum16 = new short[padded256 / 16 + Int16Dot.READ_PAST];
        this.q8kNibbleOrder = Int16Dot.WIDE ? new short[padded256] : null;
        this.q8kPlanes8 = GridPlanes.USABLE ? new short[(capacity + 511) / 512 * 512] : null;
        this.q8kPlanes4 = GridPlanes.USABLE ? new short[padded256] : null;
        this.q8kPairs = new int[padded256 / 2];
        this.q8Pairs = new int[padded / 2];
        this.q4Pairs = new int[padded / 2];
        this.q4Offsets = new int[padded / 8];
    }

    public int length() {
        return length;
    }

    public int capacity() {
        return capacity;
    }

    /** Copies {@code n} values from {@code src[off..]} and forgets any earlier prepared form. */
    public Activation set(float[] src, int off, int n) {
        if (n > capacity) {
            throw new IllegalArgumentException("activation of " + n + " values exceeds capacity " + capacity);
        }
        System.arraycopy(src, off, x, 0, n);
        length = n;
        q8Ready = false;
        f16Ready = false;
        q8kReady = false;
        nibblesReady = false;
        planes8Ready = false;
        planes4Ready = false;
        pairsReady = false;
        q8PairsReady = false;
        q4PairsReady = false;
        return this;
    }

    /**
     * Makes the form the given weight type's kernel reads. Call before handing the vector to several threads. A type
     * moed cannot compute is refused here, with the error that names the types it computes.
     */
    public void prepareFor(GgmlType weightType) {
        prepare(weightType.format().activation());
    }

    /** Makes the given form (nothing to do for the float values). */
    public void prepare(Form form) {
        switch (form) {
            case FLOAT -> { }
            case F16 -> prepareF16();
            case Q8_0 -> prepareQ8();
            case Q8_K -> prepareQ8K();
            case Q8_K_NIBBLES -> prepareNibbleOrder();
            case Q8_K_PLANES8 -> preparePlanes8();
            case Q8_K_PLANES4 -> preparePlanes4();
            case Q8_K_PAIRS -> preparePairs();
            case Q8_0_PAIRS -> prepareQ8Pairs();
            case Q4_0_PAIRS -> prepareQ4Pairs();
        }
    }

    private void prepareQ8() {
        if (q8Ready) {
            return;
        }
        if (length % 32 != 0) {
            throw new IllegalArgumentException("Q8_0 activations need a multiple of 32 values, got " + length);
        }
        // The reference engine (ik_llama.cpp) quantizes activations for Q8_0-family weights to its Q8_2 blocks on
        // x86: d = amax/127 rounded to bf16, q = x / d(rounded) rounded half to even. Mainline llama.cpp's Q8_0
        // (F16 d, q = roundf(x * 127/amax)) differs by at most one step per value; set
        // -Dmoed.kernels.q8=llama to use it instead.
        if (MAINLINE_Q8) {
            ActivationQuantizer.q8_0Mainline(x, length, q8s, q8Scale, q8Sum);
        } else {
            ActivationQuantizer.q8_0(x, length, q8s, q8Scale, q8Sum);
        }
        q8Ready = true;
    }

    private void prepareQ8K() {
        if (q8kReady) {
            return;
        }
        if (length % 256 != 0) {
            throw new IllegalArgumentException("Q8_K activations need a multiple of 256 values, got " + length);
        }
        ActivationQuantizer.q8k(x, length, q8k, q8kScale, q8kSum16, q8kSum32);
        q8kReady = true;
    }

    private void prepareQ8Pairs() {
        prepareQ8();
        if (!q8PairsReady) {
            ActivationQuantizer.q8_0Pairs(q8s, length, q8Pairs);
            q8PairsReady = true;
        }
    }

    private void prepareQ4Pairs() {
        prepareQ8();
        if (!q4PairsReady) {
            ActivationQuantizer.q8kPairs(q8s, length, q4Pairs);
            ActivationQuantizer.q4_0Offsets(q8s, length, q4Offsets);
            q4PairsReady = true;
        }
    }

    private void preparePairs() {
        prepareQ8K();
        if (!pairsReady) {
            ActivationQuantizer.q8kPairs(q8k, length, q8kPairs);
            pairsReady = true;
        }
    }

    private void prepareNibbleOrder() {
        prepareQ8K();
        if (nibblesReady || q8kNibbleOrder == null) {
            return;
        }
        for (int c = 0; c < length; c += 64) {
            System.arraycopy(q8k, c, q8kNibbleOrder, c, 16);
            System.arraycopy(q8k, c + 32, q8kNibbleOrder, c + 16, 16);
            System.arraycopy(q8k, c + 16, q8kNibbleOrder, c + 32, 16);
            System.arraycopy(q8k, c + 48, q8kNibbleOrder, c + 48, 16);
        }
        nibblesReady = true;
    }

    private void preparePlanes8() {
        prepareQ8K();
        if (!planes8Ready && q8kPlanes8 != null) {
            GridPlanes.layOut(q8k, length, q8kPlanes8, 8);
            planes8Ready = true;
        }
    }

    private void preparePlanes4() {
        prepareQ8K();
        if (!planes4Ready && q8kPlanes4 != null) {
            GridPlanes.layOut(q8k, length, q8kPlanes4, 4);
            planes4Ready = true;
        }
    }

    private void prepareF16() {
        if (f16Ready) {
            return;
        }
        for (int i = 0; i < length; i++) {
            f16[i] = Bytes.roundToF16(x[i]);
        }
        f16Ready = true;
    }
}
