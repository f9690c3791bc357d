package moed.runtime.model;

import moed.kernels.Activation;

/**
 * Everything one sequence needs between and during steps: its KV cache and the scratch buffers of a step
 * for up to {@code batch} tokens. Allocated once per sequence so that decode allocates nothing.
 * Owned by one thread at a time.
 */
public final class InferenceState {
    final int batch;
    final int contextLength;
    /**
     * Per layer, as F16 bits in the kv-head-major layout {@code Attention.store} writes and {@code Attention.attend}
     * reads. With latent attention the keys hold the latent and rotary key (one "head" of their width) and the values
     * are empty.
     */
    final short[][] keys;
    final short[][] values;
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
    final float[] selection; // one token's expert selection scores (selection bias, groups)
    /** Per row of a step: whose KV cache it reads and writes, at which position, for which sequence id. */
    final InferenceState[] rowKv;
    final int[] rowPos;
    final int[] rowSeq;
    int position;

    public InferenceState(ModelConfig c, int contextLength, int batch) {
        this(c, contextLength, batch, true);
    }

    /**
     * A state whose KV cache holds {@code contextLength} positions (or none, for a scratch state that only runs
     * steps over other states' caches) and whose step buffers hold {@code batch} rows.
     */
    InferenceState(ModelConfig c, int contextLength, int batch, boolean withKv) {
        if (contextLength < 1) {
            throw new IllegalArgumentException("context length must be positive, got " + contextLength);
        }
        this.batch = batch;
        this.contextLength = contextLength;
        int hidden = Math.max(c.maxHidden(), 1);
        int k = Math.max(c.expertsUsed(), 1);
        keys = new short[c.layers()][withKv ? contextLength * c.keyCacheWidth() : 0];
        values = new short[c.layers()][withKv ? contextLength * c.valueCacheWidth() : 0];
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
        selection = new float[Math.max(c.experts(), 1)];
        rowKv = new InferenceState[batch];
        rowPos = new int[batch];
        rowSeq = new int[batch];
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

    /** A sequence's KV cache with no step buffers of its own: steps over it run in a shared scratch state. */
    public static InferenceState kvOnly(ModelConfig c, int contextLength) {
        return new InferenceState(c, contextLength, 1, true);
    }

    /** Step buffers for up to {@code batch} rows, with no KV cache: rows point at their sequences' caches. */
    public static InferenceState scratch(ModelConfig c, int contextLength, int batch) {
        return new InferenceState(c, contextLength, batch, false);
    }

    /** Number of positions already in the KV cache: the position the next token takes. */
    public int position() {
        return position;
    }

    public int contextLength() {
        return contextLength;
    }

    public int batch() {
        return batch;
    }

    /** Forgets the sequence (the cache contents are simply overwritten later). */
    public void reset() {
        position = 0;
    }

    /** Forgets the positions from {@code to} on, keeping the first {@code to} (their KV rows stay valid). */
    public void rewind(int to) {
        if (to < 0 || to > position) {
            throw new IllegalArgumentException("can rewind to 0.." + position + " positions, not " + to);
        }
        position = to;
    }

    /** The logits of the i-th token of the last step that asked for them. */
    public float[] logits(int i) {
        return logits[i];
    }
}
