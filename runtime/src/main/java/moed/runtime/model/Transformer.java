package moed.runtime.model;

import moed.cache.ExpertSource;
import moed.cache.ExpertWeights;
import moed.kernels.Attention;
import moed.kernels.HeadProjections;
import moed.kernels.MatMat;
import moed.kernels.Ops;
import moed.kernels.WeightMatrix;
import moed.runtime.config.Setting;
import moed.runtime.config.SettingException;

/**
 * The forward pass of a decoder-only transformer (llama/Mixtral, Qwen3-MoE, Qwen2-MoE, OLMoE, gpt-oss, DeepSeek-V2/V3: the differences
 * are the optional steps named in {@link Architecture} and {@link LayerWeights}), dense or with experts, over a batch of
 * consecutive tokens of one sequence (one token for decode, a chunk of the prompt for prefill). The whole step
 * reads top to bottom in {@link #forward}: norm, q/k/v, RoPE, attention, output, residual, norm, router, experts,
 * residual. Prefill routes every token of a layer first, then runs each chosen expert once over all its tokens.
 *
 * <p>Not thread safe: one Transformer per compute thread; it owns a MatMat whose threads it uses.
 */
public final class Transformer {
    /** gpt-oss's clamped SwiGLU constants (llama.cpp's LLM_FFN_SWIGLU_OAI_MOE). */
    private static final float SWIGLU_OAI_ALPHA = 1.702f;
    private static final float SWIGLU_OAI_LIMIT = 7.0f;
    private final Model model;
    private final ModelConfig c;
    private final ExpertSource experts;
    private final MatMat mm;
    private final Attention attn;
    private final HeadProjections headProjections;
    private RouterObserver observer;
    private LayerHook hook;
    private RoutingOptions routing = RoutingOptions.DEFAULT;
    private long rerouted;

    public Transformer(Model model, ExpertSource experts, MatMat mm) {
        this.model = model;
        this.c = model.config();
        this.experts = experts;
        this.mm = mm;
        this.attn = new Attention(mm.executor());
        this.headProjections = new HeadProjections(mm);
    }

    public Model model() {
        return model;
    }

    /** Installs the routing observer (null for none). */
    public void observe(RouterObserver observer) {
        this.observer = observer;
    }

    /** Smart expert reduction, cache-aware routing and layer skipping (see {@link RoutingOptions}). */
    public void routing(RoutingOptions options) {
        if (options.reducesExperts() && options.kMin() > c.expertsUsed()) {
            throw new SettingException(Setting.EXPERT_REDUCTION, "smart expert reduction's minimum of " + options.kMin() + " experts exceeds the model's " + c.expertsUsed()
                    + " experts per token");
        }
        if (options.cacheAwareMargin() > 0 && !c.isMoe()) {
            throw new SettingException(Setting.CACHE_AWARE_ROUTING, "cache-aware routing needs a model with experts");
        }
        this.routing = options;
    }

    public RoutingOptions routing() {
        return routing;
    }

    /** Experts replaced by cache-aware routing so far. */
    public long rerouted() {
        return rerouted;
    }

    /** Installs the prediction/prefetch hook (null for none). */
    public void hook(LayerHook hook) {
        this.hook = hook;
    }

    /** A sequence of {@code contextLength} positions run alone, {@code batch} tokens a step, reported as sequence 0. */
    public InferenceState newState(int contextLength, int batch) {
        return newState(contextLength, batch, 0);
    }

    /** As {@link #newState(int, int)}, reporting its routing decisions as sequence {@code sequenceId}. */
    public InferenceState newState(int contextLength, int batch, long sequenceId) {
        return new InferenceState(c, contextLength, batch, sequenceId);
    }

    /**
     * Runs {@code n <= state.batch()} tokens starting at the state's position and advances it. When
     * {@code logitsFrom >= 0}, the logits of tokens logitsFrom..n-1 are computed into state.logits(i).
     */
    public void forward(InferenceState s, int[] tokens, int tokOff, int n, int logitsFrom) {
        StepScratch scratch = s.scratch;
        KvCache kv = s.kv;
        if (n < 1 || n > scratch.batch) {
            throw new IllegalArgumentException("batch of " + n + " tokens; this state holds 1 to " + scratch.batch);
        }
        if (kv.position + n > kv.contextLength) {
            throw new SettingException(Setting.CONTEXT_LENGTH, "context full: " + kv.position + " + " + n + " tokens exceed the context length of "
                    + kv.contextLength);
        }
        for (int i = 0; i < n; i++) {
            scratch.rowKv[i] = kv;
            scratch.rowPos[i] = kv.position + i;
        }
        run(scratch, tokens, tokOff, n, logitsFrom);
        kv.position += n;
    }

    /**
     * One step over rows of several sequences (continuous batching): row i is token {@code tokens[i]} of sequence
     * {@code kv[i]} (whose id it is reported under), at that cache's position plus the number of earlier rows
     * of the same sequence in this step. Every row is computed exactly as it would be alone (the kernels treat
     * rows independently), so experts shared by sequences are read once per step and greedy outputs do not change.
     * Advances each sequence's position by its rows; logits of rows logitsFrom..n-1 go to scratch.logits(i).
     */
    public void forwardRows(StepScratch scratch, KvCache[] kv, int[] tokens, int n, int logitsFrom) {
        if (n < 1 || n > scratch.batch) {
            throw new IllegalArgumentException("batch of " + n + " rows; this scratch holds 1 to " + scratch.batch);
        }
        for (int i = 0; i < n; i++) {
            KvCache q = kv[i];
            int pos = q.position;
            for (int j = 0; j < i; j++) {
                if (kv[j] == q) {
                    pos++;
                }
            }
            if (pos >= q.contextLength) {
                throw new SettingException(Setting.CONTEXT_LENGTH, "context full: sequence " + q.sequenceId() + " has used all " + q.contextLength
                        + " positions of its context length");
            }
            scratch.rowKv[i] = q;
            scratch.rowPos[i] = pos;
        }
        run(scratch, tokens, 0, n, logitsFrom);
        for (int i = 0; i < n; i++) {
            kv[i].position++;
        }
    }

    private void run(StepScratch s, int[] tokens, int tokOff, int n, int logitsFrom) {
        int dim = c.dim();
        for (int i = 0; i < n; i++) {
            int t = tokens[tokOff + i];
            if (t < 0 || t >= c.vocab()) {
                throw new IllegalArgumentException("token id " + t + " is outside the vocabulary of " + c.vocab());
            }
            model.tokenEmbedding().dequantizeRow(t, s.x[i]);
        }
        for (int l = 0; l < c.layers(); l++) {
            LayerWeights w = model.layer(l);
            if (hook != null) {
                hook.beforeLayer(l, s.x, n);
            }
            if (routing.skipsAttention(l)) {
                for (int i = 0; i < n; i++) {
                    Ops.rmsNorm(s.xb[i], 0, s.x[i], 0, w.ffnNorm(), dim, c.rmsEps());
                    s.actDim[i].set(s.xb[i], 0, dim);
                }
                if (hook != null) {
                    hook.afterAttention(l, s.x, n);
                }
                feedForward(s, l, w, n);
                continue;
            }
            // Attention.
            for (int i = 0; i < n; i++) {
                Ops.rmsNorm(s.xb[i], 0, s.x[i], 0, w.attnNorm(), dim, c.rmsEps());
                s.actDim[i].set(s.xb[i], 0, dim);
            }
            if (w.latent() != null) {
                latentAttention(s, l, w.latent(), n);
            } else {
                attention(s, l, w, n);
            }
            mm.apply(w.wo(), s.actQ, null, n, s.tmp);
            for (int i = 0; i < n; i++) {
                addBias(s.tmp[i], w.oBias(), dim);
                Ops.add(s.x[i], 0, s.tmp[i], 0, dim);
                Ops.rmsNorm(s.xb[i], 0, s.x[i], 0, w.ffnNorm(), dim, c.rmsEps());
                s.actDim[i].set(s.xb[i], 0, dim);
            }
            if (hook != null) {
                hook.afterAttention(l, s.x, n);
            }
            feedForward(s, l, w, n);
        }
        if (hook != null) {
            hook.afterStep();
        }
        if (logitsFrom >= 0) {
            int count = 0;
            for (int i = logitsFrom; i < n; i++) {
                Ops.rmsNorm(s.xb[i], 0, s.x[i], 0, model.outputNorm(), dim, c.rmsEps());
                s.actDim[i].set(s.xb[i], 0, dim);
                s.tokenIdx[count++] = i;
            }
            mm.apply(model.output(), s.actDim, s.tokenIdx, count, s.logits);
        }
    }

    /** Grouped-query attention over the layer's KV cache, into actQ (the output projection's input). */
    private void attention(StepScratch s, int l, LayerWeights w, int n) {
        mm.apply(w.wq(), s.actDim, null, n, s.q);
        mm.apply(w.wk(), s.actDim, null, n, s.k);
        mm.apply(w.wv(), s.actDim, null, n, s.v);
        int kvDim = c.kvDim();
        for (int i = 0; i < n; i++) {
            addBias(s.q[i], w.qBias(), c.qDim());
            addBias(s.k[i], w.kBias(), kvDim);
            addBias(s.v[i], w.vBias(), kvDim);
            normQueryKey(s.q[i], w.qNorm(), c.heads());
            normQueryKey(s.k[i], w.kNorm(), c.kvHeads());
        }
        for (int i = 0; i < n; i++) {
            int pos = s.rowPos[i];
            short[] kc = s.rowKv[i].keys[l];
            short[] vc = s.rowKv[i].values[l];
            c.rope().apply(s.q[i], 0, c.heads(), c.headDim(), pos, s.ropeScratch);
            c.rope().apply(s.k[i], 0, c.kvHeads(), c.headDim(), pos, s.ropeScratch);
            // The KV cache is F16, as llama.cpp's default cache type, in the layout Attention reads.
            Attention.store(kc, c.kvHeads(), c.headDim(), pos, s.k[i], 0);
            Attention.store(vc, c.kvHeads(), c.headDim(), pos, s.v[i], 0);
        }
        for (int i = 0; i < n; i++) {
            attn.attendHeads(s.q[i], 0, s.rowKv[i].keys[l], s.rowKv[i].values[l], c.attentionStart(l, s.rowPos[i]),
                    s.rowPos[i] + 1, c.heads(), c.kvHeads(), c.headDim(), c.attentionScale(), w.attnSinks(), s.att[i], 0);
            s.actQ[i].set(s.att[i], 0, c.qDim());
        }
    }

    /**
     * Multi-head latent attention (DeepSeek), in llama.cpp's absorbed form: the cache holds each position's normed
     * latent and rotated rotary key (kvLoraRank + ropeDim values, shared by all heads); each head's non-rotary query
     * is taken into latent space through its slice of the key up-projection, so the head attends to the cached rows
     * directly (one shared key head), and the attention-weighted latent is taken to the head's value through its
     * slice of the value up-projection. Equal to decompressing every cached key and value, at a fraction of the cache
     * and without per-position decompression work.
     */
    private void latentAttention(StepScratch s, int l, LayerWeights.LatentAttention a, int n) {
        ModelConfig.LatentShape m = c.latent();
        StepScratch.LatentScratch z = s.latent;
        int heads = c.heads();
        int headK = c.headDim();
        int rank = m.kvLoraRank();
        int nope = m.nopeDim();
        int width = m.cacheWidth();
        int valueDim = m.valueDim();
        if (a.q() != null) {
            mm.apply(a.q(), s.actDim, null, n, s.q);
        } else {
            mm.apply(a.qA(), s.actDim, null, n, z.qLora);
            for (int i = 0; i < n; i++) {
                Ops.rmsNorm(z.qLora[i], 0, z.qLora[i], 0, a.qANorm(), m.qLoraRank(), c.rmsEps());
                z.actQLora[i].set(z.qLora[i], 0, m.qLoraRank());
            }
            mm.apply(a.qB(), z.actQLora, null, n, s.q);
        }
        mm.apply(a.kvA(), s.actDim, null, n, s.k);
        for (int i = 0; i < n; i++) {
            int pos = s.rowPos[i];
            // Each head's query is [nope | rope]; kvA's output is [latent | rotary key].
            c.rope().apply(s.q[i], nope, heads, headK, pos, s.ropeScratch);
            c.rope().apply(s.k[i], rank, 1, width, pos, s.ropeScratch);
            Ops.rmsNorm(s.k[i], 0, s.k[i], 0, a.kvANorm(), rank, c.rmsEps());
            Attention.store(s.rowKv[i].keys[l], 1, width, pos, s.k[i], 0);
            for (int h = 0; h < heads; h++) {
                System.arraycopy(s.q[i], h * headK + nope, z.query[i], h * width + rank, width - rank);
            }
        }
        // Each head's non-rotary query taken into latent space, into the first kvLoraRank values of its query row.
        headProjections.apply(a.keyAbsorb(), s.q, 0, headK, n, z.query, width);
        for (int i = 0; i < n; i++) {
            // The cached rows are the keys and also the values: a head's output is its weighted latent (the rotary
            // tail of each output row is not used).
            short[] kc = s.rowKv[i].keys[l];
            attn.attendHeads(z.query[i], 0, kc, kc, 0, s.rowPos[i] + 1, heads, 1, width, c.attentionScale(), null,
                    s.att[i], 0);
        }
        // Each head's weighted latent taken to its value.
        headProjections.apply(a.valueUp(), s.att, 0, width, n, z.out, valueDim);
        for (int i = 0; i < n; i++) {
            s.actQ[i].set(z.out[i], 0, c.attentionOutDim());
        }
    }

    /** Feed-forward: the residual adds the sub-block's input (ffn_inp), as Mixtral defines it. */
    private void feedForward(StepScratch s, int l, LayerWeights w, int n) {
        if (routing.skipsMoe(l)) {
            return;
        }
        if (w.router() != null) {
            moe(s, l, w, n);
        } else {
            denseFfn(s, w, n);
        }
    }

    /**
     * The chosen experts of layer l in the order to compute them: those resident now first, then the others in id
     * order (the order routing queued their loads in), so the loads proceed while the resident ones compute. The
     * order does not change the result: each (token, slot) output is kept apart and summed in rank order afterwards.
     */
    private int computeOrder(int l, int[] counts, int e, int[] order, boolean[] first) {
        int n = 0;
        for (int ex = 0; ex < e; ex++) {
            // Read once per expert: residency may change meanwhile, and each expert must be listed exactly once.
            first[ex] = counts[ex] > 0 && experts.isResident(l, ex);
            if (first[ex]) {
                order[n++] = ex;
            }
        }
        for (int ex = 0; ex < e; ex++) {
            if (counts[ex] > 0 && !first[ex]) {
                order[n++] = ex;
            }
        }
        return n;
    }

    private void denseFfn(StepScratch s, LayerWeights w, int n) {
        swigluFfn(s, w.ffnGate(), w.ffnUp(), w.ffnDown(), n, s.tmp);
        for (int i = 0; i < n; i++) {
            Ops.add(s.x[i], 0, s.tmp[i], 0, c.dim());
        }
    }

    /**
     * Probabilities from the router logits (plus the router's bias, if any) by softmax or sigmoid, the top k as the
     * layer's {@link moed.kernels.RouterScoring} chooses them, their weights renormalised to sum to 1 where the
     * architecture does so and scaled where it has a scale; each expert's SwiGLU output (plus its biases, if any) is weighted and the
     * k outputs summed in rank order (as llama.cpp adds them), then the shared expert's output, if any.
     */
    private void moe(StepScratch s, int l, LayerWeights w, int n) {
        int k = c.expertsUsed();
        int e = c.experts();
        mm.apply(w.router(), s.actDim, null, n, s.routerLogits);
        java.util.Arrays.fill(s.expertCount, 0);
        for (int i = 0; i < n; i++) {
            float[] p = s.routerLogits[i];
            addBias(p, w.routerBias(), e);
            w.scoring().probabilities(p, e);
            w.scoring().choose(p, e, k, s.chosen[i], s.selection);
            int used = k;
            int swapped = 0;
            if (routing.reducesExperts()) {
                // Ranks are in descending probability: once one falls below t * top, all later ones do.
                float bar = routing.threshold() * p[s.chosen[i][0]];
                used = routing.kMin();
                while (used < k && p[s.chosen[i][used]] > bar) {
                    used++;
                }
            }
            if (routing.cacheAwareMargin() > 0) {
                swapped = preferResident(l, p, s.chosen[i], used, e);
            }
            s.used[i] = used;
            float sum = 0;
            for (int j = 0; j < used; j++) {
                s.weights[i][j] = p[s.chosen[i][j]];
                sum += s.weights[i][j];
            }
            // Renormalise among the experts used (Mixtral, Qwen3), or keep the softmax's weights (Qwen2, OLMoE);
            // then the model's scale, if it has one.
            // (The sum is clamped as llama.cpp does, at the smallest normal F16, against sigmoid weights near zero.)
            float norm = (c.normalizeTopK() ? 1f / Math.max(sum, 6.103515625e-5f) : 1f) * c.expertWeightsScale();
            for (int j = 0; j < used; j++) {
                s.weights[i][j] *= norm;
                s.expertCount[s.chosen[i][j]]++;
            }
            if (observer != null) {
                observer.onRoute(s.rowKv[i].sequenceId(), s.rowPos[i], l, s.chosen[i], s.weights[i], used, swapped);
            }
        }
        // The planner first (it withdraws the predictions routing did not choose, freeing their slots), then the
        // source (it counts the accesses and starts loading the chosen experts it lacks).
        if (hook != null) {
            hook.routed(l, s.expertCount, e);
        }
        experts.routed(l, s.expertCount, e);
        int dim = c.dim();
        int chosenExperts = computeOrder(l, s.expertCount, e, s.expertOrder, s.expertFirst);
        for (int o = 0; o < chosenExperts; o++) {
            int ex = s.expertOrder[o];
            // The (token, slot) pairs that chose this expert; each pair gets its own hidden row.
            int m = 0;
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < s.used[i]; j++) {
                    if (s.chosen[i][j] == ex) {
                        s.tokenIdx[m] = i;
                        s.slotIdx[m] = i * k + j;
                        m++;
                    }
                }
            }
            ExpertWeights ew = experts.acquire(l, ex);
            try {
                int[] toks = s.tokenIdx;
                int[] slots = s.slotIdx;
                gateUp(s, ew.gate(), toks, slots, m, s.gate);
                gateUp(s, ew.up(), toks, slots, m, s.up);
                int hidden = ew.gate().rows();
                LayerWeights.ExpertBiases b = w.expertBiases();
                for (int t = 0; t < m; t++) {
                    int slot = slots[t];
                    if (b != null) {
                        Ops.add(s.gate[slot], 0, b.gate()[ex], 0, hidden);
                        Ops.add(s.up[slot], 0, b.up()[ex], 0, hidden);
                    }
                    if (c.arch().clampedSwiglu()) {
                        Ops.swigluOai(s.gate[slot], 0, s.up[slot], 0, hidden, SWIGLU_OAI_ALPHA, SWIGLU_OAI_LIMIT);
                    } else {
                        Ops.swiglu(s.gate[slot], 0, s.up[slot], 0, hidden);
                    }
                    s.actHidden[slot].set(s.gate[slot], 0, hidden);
                }
                for (int t = 0; t < m; t++) {
                    int slot = slots[t];
                    s.expertOutRow[slot] = s.expertOut[slot / k][slot % k];
                }
                mm.apply(ew.down(), s.actHidden, slots, m, s.expertOutRow);
                if (b != null) {
                    for (int t = 0; t < m; t++) {
                        Ops.add(s.expertOutRow[slots[t]], 0, b.down()[ex], 0, dim);
                    }
                }
            } finally {
                experts.release(l, ex);
            }
        }
        if (w.shared() != null) {
            sharedExpert(s, w.shared(), n);
        }
        for (int i = 0; i < n; i++) {
            float[] acc = s.tmp[i];
            java.util.Arrays.fill(acc, 0, dim, 0f);
            for (int j = 0; j < s.used[i]; j++) {
                Ops.addScaled(acc, 0, s.expertOut[i][j], 0, s.weights[i][j], dim);
            }
            if (w.shared() != null) {
                Ops.add(acc, 0, s.sharedOut[i], 0, dim);
            }
            Ops.add(s.x[i], 0, acc, 0, dim);
        }
    }

    /** The shared expert every token runs (Qwen2-MoE, DeepSeek), times its sigmoid gate if it has one, into sharedOut. */
    private void sharedExpert(StepScratch s, LayerWeights.SharedExpert se, int n) {
        swigluFfn(s, se.gate(), se.up(), se.down(), n, s.sharedOut);
        if (se.gateInput() != null) {
            for (int i = 0; i < n; i++) {
                float g = Ops.sigmoid(Ops.dot(se.gateInput(), 0, s.xb[i], 0, c.dim()));
                Ops.scale(s.sharedOut[i], 0, g, c.dim());
            }
        }
    }

    /** down(silu(gate x) * up x) for the n tokens' normed inputs (actDim), into out. */
    private void swigluFfn(StepScratch s, WeightMatrix gate, WeightMatrix up, WeightMatrix down, int n, float[][] out) {
        mm.apply(gate, s.actDim, null, n, s.gate);
        mm.apply(up, s.actDim, null, n, s.up);
        int hidden = gate.rows();
        for (int i = 0; i < n; i++) {
            Ops.swiglu(s.gate[i], 0, s.up[i], 0, hidden);
            s.actHidden[i].set(s.gate[i], 0, hidden);
        }
        mm.apply(down, s.actHidden, null, n, out);
    }

    private static void addBias(float[] x, float[] bias, int n) {
        if (bias != null) {
            Ops.add(x, 0, bias, 0, n);
        }
    }

    /** Query/key RMSNorm before RoPE: per head with one head-sized weight (Qwen3) or over the whole projection (OLMoE). */
    private void normQueryKey(float[] x, float[] weight, int heads) {
        if (weight == null) {
            return;
        }
        if (c.arch().qkNorm() == Architecture.QkNorm.PER_HEAD) {
            int hd = c.headDim();
            for (int h = 0; h < heads; h++) {
                Ops.rmsNorm(x, h * hd, x, h * hd, weight, hd, c.rmsEps());
            }
        } else {
            Ops.rmsNorm(x, 0, x, 0, weight, heads * c.headDim(), c.rmsEps());
        }
    }

    /**
     * Cache-aware routing: each chosen expert ranked kMin+1..used that is not resident is replaced by the most
     * probable resident expert not yet chosen whose probability is at least its own minus the margin. The top kMin
     * (all, without -ser: the model's own top-1 at least) are never touched. Returns how many were replaced.
     */
    private int preferResident(int l, float[] p, int[] chosen, int used, int e) {
        int from = Math.max(1, routing.kMin());
        int swapped = 0;
        for (int j = from; j < used; j++) {
            int ex = chosen[j];
            if (experts.isResident(l, ex)) {
                continue;
            }
            float floor = p[ex] - routing.cacheAwareMargin();
            int best = -1;
            for (int a = 0; a < e; a++) {
                if (p[a] < floor || (best >= 0 && p[a] <= p[best]) || contains(chosen, used, a)) {
                    continue;
                }
                if (experts.isResident(l, a)) {
                    best = a;
                }
            }
            if (best >= 0) {
                chosen[j] = best;
                swapped++;
                rerouted++;
            }
        }
        return swapped;
    }

    private static boolean contains(int[] a, int n, int v) {
        for (int i = 0; i < n; i++) {
            if (a[i] == v) {
                return true;
            }
        }
        return false;
    }

    /** Applies an expert's gate or up matrix to the chosen tokens' activations, writing rows by slot. */
    private void gateUp(StepScratch s, WeightMatrix m, int[] toks, int[] slots, int count, float[][] out) {
        // MatMat reads xs[which[t]] and writes out[which[t]]: the input is per token, the output per slot, so
        // the slot rows are aliased by token in a view array (an expert appears once per token).
        for (int t = 0; t < count; t++) {
            s.rowView[toks[t]] = out[slots[t]];
        }
        mm.apply(m, s.actDim, toks, count, s.rowView);
    }
}
