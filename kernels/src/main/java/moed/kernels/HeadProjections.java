package moed.kernels;

/**
 * One small matrix per attention head, each applied to that head's slice of every token's vector: latent attention's
 * key absorption and value up-projection (DeepSeek), {@code out[t][h * outStride + r] = W_h[r] . in[t][inOff + h *
 * inStride ..]}. For a step of few tokens (decode) every head's rows go to the threads in one call: a call per head
 * woke the threads twice per head and layer for a few microseconds of work each. From
 * {@link MatMat#GEMM_MIN_TOKENS} tokens on, each head is one {@link MatMat} call, so prefill keeps its GEMM. Every
 * (row, token) result is that of {@link Dot#row} either way, as MatMat's.
 *
 * <p>One instance per calling thread; nothing is allocated per call once the scratch has grown.
 */
public final class HeadProjections implements ParallelExecutor.RangeTask {
    private final MatMat perHead;
    /** [head][token]: every head's activations, for a step of few tokens. */
    private Activation[][] heads = new Activation[0][0];
    /** [token]: one head's activations and results at a time, for many tokens. */
    private Activation[] oneHead = new Activation[0];
    private float[][] oneHeadOut = new float[0][0];
    // The call's arguments, for the worker threads.
    private WeightMatrix[] ms;
    private int count;
    private float[][] out;
    private int outStride;

    public HeadProjections(MatMat perHead) {
        this.perHead = perHead;
    }

    /**
     * For every head h and token t below {@code count}: out[t][h * outStride + r] = ms[h] row r . in[t][inOff + h *
     * inStride, + ms[h].cols()). All matrices have the same shape.
     */
    public void apply(WeightMatrix[] ms, float[][] in, int inOff, int inStride, int count, float[][] out, int outStride) {
        int rows = ms[0].rows();
        int cols = ms[0].cols();
        for (WeightMatrix m : ms) {
            if (m.rows() != rows || m.cols() != cols) {
                throw new IllegalArgumentException("head matrices differ in shape: " + m.rows() + "x" + m.cols()
                        + " against " + rows + "x" + cols);
            }
        }
        if (count >= MatMat.GEMM_MIN_TOKENS) {
            applyHeadByHead(ms, in, inOff, inStride, count, out, outStride, rows, cols);
            return;
        }
        grow(ms.length, count, cols);
        long bytes = 0;
        for (int h = 0; h < ms.length; h++) {
            for (int t = 0; t < count; t++) {
                heads[h][t].set(in[t], inOff + h * inStride, cols).prepareFor(ms[h].type());
            }
            bytes += ms[h].byteSize();
        }
        this.ms = ms;
        this.count = count;
        this.out = out;
        this.outStride = outStride;
        // As MatMat: waking another core is not worth it for less than a few tens of KiB.
        perHead.executor().run(ms.length * rows, bytes < 24 * 1024 ? ms.length * rows : 8, this);
        this.ms = null;
        this.out = null;
    }

    @Override
    public void run(int from, int to) {
        int rows = ms[0].rows();
        for (int i = from; i < to; i++) {
            int h = i / rows;
            int r = i - h * rows;
            for (int t = 0; t < count; t++) {
                out[t][h * outStride + r] = Dot.row(ms[h], r, heads[h][t]);
            }
        }
    }

    private void applyHeadByHead(WeightMatrix[] ms, float[][] in, int inOff, int inStride, int count, float[][] out,
                                 int outStride, int rows, int cols) {
        if (oneHead.length < count || oneHead[0].capacity() < cols || oneHeadOut[0].length < rows) {
            oneHead = new Activation[count];
            oneHeadOut = new float[count][rows];
            for (int t = 0; t < count; t++) {
                oneHead[t] = new Activation(cols);
            }
        }
        for (int h = 0; h < ms.length; h++) {
            for (int t = 0; t < count; t++) {
                oneHead[t].set(in[t], inOff + h * inStride, cols);
            }
            perHead.apply(ms[h], oneHead, null, count, oneHeadOut);
            for (int t = 0; t < count; t++) {
                System.arraycopy(oneHeadOut[t], 0, out[t], h * outStride, rows);
            }
        }
    }

    private void grow(int nHeads, int count, int cols) {
        if (heads.length >= nHeads && heads[0].length >= count && heads[0][0].capacity() >= cols) {
            return;
        }
        heads = new Activation[nHeads][MatMat.GEMM_MIN_TOKENS - 1];
        for (Activation[] h : heads) {
            for (int t = 0; t < h.length; t++) {
                h[t] = new Activation(cols);
            }
        }
    }
}
