package moed.runtime.model;

import moed.kernels.Activation;

/**
 * The buffers of one forward step for up to {@code batch} rows: activations, attention and expert intermediates,
 * logits, and which KV cache and position each row reads and writes. One per compute thread, reused by every
 * step over any sequences, so decode allocates nothing. Holds no sequence's memory (that is {@link KvCache}).
 */
public final class StepScratch {
    final int batch;
    final float[][] x;      // residual stream
    final float[][] xb;     // normed input of a sub-block
    final float[][] q;
    final float[][] k;
    final float[][] v;
    final float[][] att;    // attention output, before wo
    final float[][] tmp;    // wo output, dense FFN output
    final float[][] sharedOut; // shared expert output (Qwen2-MoE, DeepSeek)
    final LatentScratch latent; // multi-head latent attention's buffers, or null
    final float[][] routerLogits;
    final float[][] gate;   // expert / FFN hidden, gate projection then SwiGLU
    final float[][] up;
    final float[][][] expertOut; // [token][slot][dim]: each chosen expert's output, summed in rank order
    final float[][] expertOutRow; // expertOut rows indexed by slot (token * k + rank)
    final float[][] rowView;      // scratch row aliases, indexed by token
    final int[][] chosen;
    /** Per token of a step: how many of its chosen experts are used (k, or fewer with smart expert reduction). */
    final int[] used;
    final float[][] weights;
    final float[][] logits;
    final Activation[] actDim;
    final Activation[] actQ;
    final Activation[] actHidden;
    final float[] ropeScratch;
    final int[] tokenIdx;
    final int[] slotIdx;
    final int[] expertCount;
    /** The order the step computes a layer's chosen experts in: resident ones first (see Transformer.moe). */
    final int[] expertOrder;
    final boolean[] expertFirst;
    final float[] selection; // one token's expert selection scores (selection bias, groups)
    /** Per row of a step: whose KV cache it reads and writes, at which position. */
    final KvCache[] rowKv;
    final int[] rowPos;

    public StepScratch(ModelConfig c, int batch) {
        if (batch < 1) {
            throw new IllegalArgumentException("a step holds at least one row, got " + batch);
        }
        this.batch = batch;
        int hidden = Math.max(c.maxHidden(), 1);
        int k = Math.max(c.expertsUsed(), 1);
        x = new float[batch][c.dim()];
        xb = new float[batch][c.dim()];
        q = new float[batch][c.qDim()];
        this.k = new float[batch][c.keyCacheWidth()];
        v = new float[batch][c.valueCacheWidth()];
        latent = c.latent() != null ? new LatentScratch(c, batch) : null;
        // Latent attention's heads each read and output kvLoraRank + ropeDim values before the value up-projection.
        int attWidth = c.latent() != null ? c.heads() * c.keyCacheWidth() : c.qDim();
        att = new float[batch][attWidth];
        tmp = new float[batch][c.dim()];
        sharedOut = new float[c.sharedFeedForward() > 0 ? batch : 0][c.dim()];
        routerLogits = new float[batch][Math.max(c.experts(), 1)];
        gate = new float[batch * k][hidden];
        up = new float[batch * k][hidden];
        expertOut = new float[batch][k][c.dim()];
        expertOutRow = new float[batch * k][];
        rowView = new float[batch][];
        chosen = new int[batch][k];
        used = new int[batch];
        weights = new float[batch][k];
        logits = new float[batch][c.vocab()];
        actDim = new Activation[batch];
        actQ = new Activation[batch];
        actHidden = new Activation[batch * k];
        for (int i = 0; i < batch; i++) {
            actDim[i] = new Activation(c.dim());
            actQ[i] = new Activation(c.attentionOutDim());
        }
        for (int i = 0; i < batch * k; i++) {
            actHidden[i] = new Activation(hidden);
        }
        ropeScratch = new float[c.headDim() + 2];
        tokenIdx = new int[batch * k];
        slotIdx = new int[batch * k];
        expertCount = new int[Math.max(c.experts(), 1)];
        expertOrder = new int[Math.max(c.experts(), 1)];
        expertFirst = new boolean[Math.max(c.experts(), 1)];
        selection = new float[Math.max(c.experts(), 1)];
        rowKv = new KvCache[batch];
        rowPos = new int[batch];
    }

    /** Buffers of multi-head latent attention's extra steps, per row of a step. */
    static final class LatentScratch {
        final float[][] qLora;        // the query's low-rank bottleneck, normed
        final Activation[] actQLora;
        final float[][] query;        // per head: absorbed query, then the rotary query (kvLoraRank + ropeDim)
        final float[][] out;          // all heads' values: what the output projection reads

        LatentScratch(ModelConfig c, int batch) {
            ModelConfig.LatentShape m = c.latent();
            qLora = new float[batch][Math.max(m.qLoraRank(), 1)];
            actQLora = new Activation[batch];
            for (int i = 0; i < batch; i++) {
                actQLora[i] = new Activation(Math.max(m.qLoraRank(), 1));
            }
            query = new float[batch][c.heads() * m.cacheWidth()];
            out = new float[batch][c.attentionOutDim()];
        }
    }

    /** Rows a step over this scratch may hold. */
    public int batch() {
        return batch;
    }

    /** The logits of the i-th row of the last step that asked for them. */
    public float[] logits(int i) {
        return logits[i];
    }
}
