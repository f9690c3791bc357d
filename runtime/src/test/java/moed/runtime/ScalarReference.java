package moed.runtime;

import java.util.ArrayList;
import java.util.List;
import moed.kernels.Dequantize;
import moed.runtime.gguf.GgufFile;
import moed.runtime.gguf.GgufTensor;

/**
 * A plain, slow, one-token-at-a-time forward pass over a GGUF file's dequantized weights, written from llama.cpp's
 * graph builders (llama/Mixtral, qwen3moe, qwen2moe, olmoe, gpt-oss, deepseek2) without any of moed's runtime classes: it reads its own
 * hyperparameters and tensors, loops over plain float arrays, and spells each architecture's differences out where
 * they happen. The fast path must agree with it. Attention rounds as llama.cpp's non-flash path over its default
 * F16 cache does: keys and values are stored as F16, the query meets the keys as F16, and the probabilities meet
 * the values as F16. DeepSeek's latent attention reads the up-projection weights row by row: each head's query is taken
 * into latent space and every cached latent is decompressed into the head's value (the cache holds the latent and the
 * rotary key as F16, as llama.cpp's absorbed path caches them, and the latent-space query is rounded to F16 as it meets
 * them there).
 */
final class ScalarReference {
    /** One routing decision: the chosen experts (best first) and their weights. */
    record Route(int pos, int layer, int[] experts, float[] weights) {
    }

    private final GgufFile f;
    private final String arch;
    private final int layers;
    private final int dim;
    private final int heads;
    private final int kvHeads;
    private final int hd;
    private final int experts;
    private final int topK;
    private final float eps;
    private final float ropeBase;
    private final int window;
    private final float yarnFactor;
    private final int yarnOrigContext;
    // DeepSeek: rotary slice, leading dense layers, routing (gating, selection bias, groups, norm, scale), YaRN.
    private final boolean deepseek;
    private final int ropeDim;
    private final int denseLayers;
    private final boolean sigmoid;
    private final int groups;
    private final int groupsUsed;
    private final boolean normWeights;
    private final float weightsScale;
    private final float yarnLogMul;
    private final List<List<float[]>> keys = new ArrayList<>();
    private final List<List<float[]>> values = new ArrayList<>();
    final List<Route> routes = new ArrayList<>();

    ScalarReference(GgufFile f) {
        this.f = f;
        this.arch = f.getString("general.architecture");
        String p = arch + ".";
        layers = f.getInt(p + "block_count");
        dim = f.getInt(p + "embedding_length");
        heads = f.getInt(p + "attention.head_count");
        kvHeads = f.getInt(p + "attention.head_count_kv");
        deepseek = arch.equals("deepseek2");
        hd = f.getInt(p + "attention.key_length_mla", f.getInt(p + "attention.key_length", dim / heads));
        ropeDim = f.getInt(p + "rope.dimension_count", hd);
        denseLayers = f.getInt(p + "leading_dense_block_count", 0);
        sigmoid = f.getInt(p + "expert_gating_func", 1) == 2;
        groups = f.getInt(p + "expert_group_count", 1);
        groupsUsed = f.getInt(p + "expert_group_used_count", 1);
        normWeights = f.has(p + "expert_weights_norm") && f.getBool(p + "expert_weights_norm", false);
        weightsScale = f.getFloat(p + "expert_weights_scale", 0f);
        yarnLogMul = f.getFloat(p + "rope.scaling.yarn_log_multiplier", 0f);
        experts = f.getInt(p + "expert_count");
        topK = f.getInt(p + "expert_used_count");
        eps = f.getFloat(p + "attention.layer_norm_rms_epsilon");
        ropeBase = f.getFloat(p + "rope.freq_base");
        window = f.getInt(p + "attention.sliding_window", 0);
        boolean yarn = f.has(p + "rope.scaling.type") && f.getString(p + "rope.scaling.type").equals("yarn");
        yarnFactor = yarn ? f.getFloat(p + "rope.scaling.factor") : 0;
        yarnOrigContext = yarn ? f.getInt(p + "rope.scaling.original_context_length") : 0;
        for (int l = 0; l < layers; l++) {
            keys.add(new ArrayList<>());
            values.add(new ArrayList<>());
        }
    }

    /** Runs the token at the next position and returns its logits. */
    float[] forward(int token) {
        int pos = keys.get(0).size();
        float[] x = row("token_embd.weight", token);
        for (int l = 0; l < layers; l++) {
            String b = "blk." + l + ".";
            if (deepseek) {
                deepseekLayer(x, l, pos);
                continue;
            }
            float[] h = rmsNorm(x, vector(b + "attn_norm.weight"));
            float[] q = matVec(b + "attn_q.weight", h);
            float[] k = matVec(b + "attn_k.weight", h);
            float[] v = matVec(b + "attn_v.weight", h);
            boolean oss = arch.equals("gpt-oss");
            if (arch.equals("qwen2moe") || oss) {
                add(q, vector(b + "attn_q.bias"));
                add(k, vector(b + "attn_k.bias"));
                add(v, vector(b + "attn_v.bias"));
            }
            if (arch.equals("qwen3moe")) { // per head, one head-sized weight
                q = perHeadNorm(q, heads, vector(b + "attn_q_norm.weight"));
                k = perHeadNorm(k, kvHeads, vector(b + "attn_k_norm.weight"));
            } else if (arch.equals("olmoe")) { // over the whole projection
                q = rmsNorm(q, vector(b + "attn_q_norm.weight"));
                k = rmsNorm(k, vector(b + "attn_k_norm.weight"));
            }
            boolean neox = !arch.equals("llama");
            rope(q, 0, hd, heads, pos, neox);
            rope(k, 0, hd, kvHeads, pos, neox);
            keys.get(l).add(toF16(k));
            values.get(l).add(toF16(v));
            float[] att = new float[heads * hd];
            // gpt-oss: even layers see only the last `window` positions; every head has a sink logit.
            int from = oss && l % 2 == 0 ? Math.max(0, pos + 1 - window) : 0;
            float[] sinks = oss ? vector(b + "attn_sinks.weight") : null;
            for (int hh = 0; hh < heads; hh++) {
                int kvh = hh / (heads / kvHeads);
                float[] scores = new float[pos + 1];
                java.util.Arrays.fill(scores, Float.NEGATIVE_INFINITY);
                for (int t = from; t <= pos; t++) {
                    float s = 0;
                    for (int i = 0; i < hd; i++) {
                        s += f16(q[hh * hd + i]) * keys.get(l).get(t)[kvh * hd + i];
                    }
                    scores[t] = s / (float) Math.sqrt(hd);
                }
                if (sinks != null) { // the sink is one more softmax entry, with no value
                    float[] withSink = java.util.Arrays.copyOf(scores, pos + 2);
                    withSink[pos + 1] = sinks[hh];
                    softmax(withSink);
                    System.arraycopy(withSink, 0, scores, 0, pos + 1);
                } else {
                    softmax(scores);
                }
                for (int t = from; t <= pos; t++) {
                    for (int i = 0; i < hd; i++) {
                        att[hh * hd + i] += f16(scores[t]) * values.get(l).get(t)[kvh * hd + i];
                    }
                }
            }
            float[] o = matVec(b + "attn_output.weight", att);
            if (oss) {
                add(o, vector(b + "attn_output.bias"));
            }
            add(x, o);
            h = rmsNorm(x, vector(b + (oss ? "post_attention_norm" : "ffn_norm") + ".weight"));
            float[] logits = matVec(b + "ffn_gate_inp.weight", h);
            int[] chosen;
            float[] w = new float[topK];
            if (oss) { // router bias; top-k of the logits, then a softmax over those k only
                add(logits, vector(b + "ffn_gate_inp.bias"));
                chosen = topK(logits, topK);
                for (int j = 0; j < topK; j++) {
                    w[j] = logits[chosen[j]];
                }
                softmax(w);
            } else {
                float[] probs = logits.clone();
                softmax(probs);
                chosen = topK(probs, topK);
                float sum = 0;
                for (int j = 0; j < topK; j++) {
                    w[j] = probs[chosen[j]];
                    sum += w[j];
                }
                if (arch.equals("llama") || arch.equals("qwen3moe")) { // renormalised; qwen2moe and olmoe keep the softmax's
                    for (int j = 0; j < topK; j++) {
                        w[j] /= sum;
                    }
                }
            }
            routes.add(new Route(pos, l, chosen, w));
            float[] out = new float[dim];
            for (int j = 0; j < topK; j++) {
                float[] y = ffn(h, b + "ffn_gate_exps.weight", b + "ffn_up_exps.weight", b + "ffn_down_exps.weight", chosen[j]);
                for (int i = 0; i < dim; i++) {
                    out[i] += w[j] * y[i];
                }
            }
            if (arch.equals("qwen2moe")) { // the shared expert, gated by sigmoid(g . h)
                float[] y = ffn(h, b + "ffn_gate_shexp.weight", b + "ffn_up_shexp.weight", b + "ffn_down_shexp.weight", 0);
                float g = dot(vector(b + "ffn_gate_inp_shexp.weight"), h);
                float gate = (float) (1 / (1 + Math.exp(-g)));
                for (int i = 0; i < dim; i++) {
                    out[i] += gate * y[i];
                }
            }
            add(x, out);
        }
        float[] xn = rmsNorm(x, vector("output_norm.weight"));
        return matVec(f.tensor("output.weight") != null ? "output.weight" : "token_embd.weight", xn);
    }

    /**
     * One DeepSeek layer: latent attention, then a dense FFN (leading layers) or routed experts plus shared experts.
     */
    private void deepseekLayer(float[] x, int l, int pos) {
        String b = "blk." + l + ".";
        int rank = f.getInt(arch + ".attention.kv_lora_rank");
        int nope = hd - ropeDim;
        int vd = f.getInt(arch + ".attention.value_length_mla", f.getInt(arch + ".attention.value_length", hd));
        float[] h = rmsNorm(x, vector(b + "attn_norm.weight"));
        float[] q = f.tensor(b + "attn_q_a.weight") != null
                ? matVec(b + "attn_q_b.weight", rmsNorm(matVec(b + "attn_q_a.weight", h), vector(b + "attn_q_a_norm.weight")))
                : matVec(b + "attn_q.weight", h);
        float[] kv = matVec(b + "attn_kv_a_mqa.weight", h);
        float[] latent = rmsNorm(java.util.Arrays.copyOf(kv, rank), vector(b + "attn_kv_a_norm.weight"));
        float[] kRot = java.util.Arrays.copyOfRange(kv, rank, rank + ropeDim);
        rope(q, nope, hd, heads, pos, false); // adjacent pairs on each head's rotary tail
        rope(kRot, 0, ropeDim, 1, pos, false);
        keys.get(l).add(toF16(latent));
        values.get(l).add(toF16(kRot));
        // YaRN's magnitude correction goes to the scores, squared (HF's yarn_get_mscale(factor, mscale_all_dim)).
        double mscale = yarnFactor > 0 ? 1 + yarnLogMul * Math.log(yarnFactor) : 1;
        float scale = (float) (mscale * mscale / Math.sqrt(hd));
        float[] att = new float[heads * vd];
        for (int hh = 0; hh < heads; hh++) {
            float[] scores = new float[pos + 1];
            float[][] v = new float[pos + 1][];
            // q_nope . (W_k latent) = (W_k^T q_nope) . latent: llama.cpp takes the query into latent space and
            // rounds it to F16 there (as it meets the F16 cache), so the reference does too.
            float[] qLatent = new float[rank];
            for (int i = 0; i < nope; i++) {
                float[] wk = keyRow(b, hh, i, rank, nope, vd);
                for (int c = 0; c < rank; c++) {
                    qLatent[c] += q[hh * hd + i] * wk[c];
                }
            }
            for (int t = 0; t <= pos; t++) {
                float[] lat = keys.get(l).get(t);
                v[t] = valueOf(b, hh, lat, nope, vd);
                double sc = 0;
                for (int c = 0; c < rank; c++) {
                    sc += (double) f16(qLatent[c]) * lat[c];
                }
                for (int i = 0; i < ropeDim; i++) {
                    sc += (double) f16(q[hh * hd + nope + i]) * values.get(l).get(t)[i];
                }
                scores[t] = (float) sc * scale;
            }
            softmax(scores);
            for (int t = 0; t <= pos; t++) {
                for (int i = 0; i < vd; i++) {
                    att[hh * vd + i] += f16(scores[t]) * v[t][i];
                }
            }
        }
        add(x, matVec(b + "attn_output.weight", att));
        h = rmsNorm(x, vector(b + "ffn_norm.weight"));
        if (l < denseLayers) {
            add(x, ffn(h, b + "ffn_gate.weight", b + "ffn_up.weight", b + "ffn_down.weight", 0));
            return;
        }
        float[] logits = matVec(b + "ffn_gate_inp.weight", h);
        float[] probs = logits.clone();
        if (sigmoid) {
            for (int i = 0; i < probs.length; i++) {
                probs[i] = (float) (1 / (1 + Math.exp(-logits[i])));
            }
        } else {
            softmax(probs);
        }
        float[] select = probs.clone();
        if (f.tensor(b + "exp_probs_b.bias") != null) { // biases the choice, not the weights
            add(select, vector(b + "exp_probs_b.bias"));
        }
        if (groups > 1) { // a group's score is the sum of its best two; only the best groupsUsed groups compete
            int per = experts / groups;
            float[] groupScore = new float[groups];
            for (int g = 0; g < groups; g++) {
                int[] best = topK(java.util.Arrays.copyOfRange(select, g * per, (g + 1) * per), 2);
                groupScore[g] = select[g * per + best[0]] + select[g * per + best[1]];
            }
            java.util.Set<Integer> kept = new java.util.HashSet<>();
            for (int g : topK(groupScore, groupsUsed)) {
                kept.add(g);
            }
            for (int i = 0; i < experts; i++) {
                if (!kept.contains(i / per)) {
                    select[i] = Float.NEGATIVE_INFINITY;
                }
            }
        }
        int[] chosen = topK(select, topK);
        float[] w = new float[topK];
        float sum = 0;
        for (int j = 0; j < topK; j++) {
            w[j] = probs[chosen[j]];
            sum += w[j];
        }
        for (int j = 0; j < topK; j++) {
            if (normWeights) {
                w[j] /= sum;
            }
            if (weightsScale != 0) {
                w[j] *= weightsScale;
            }
        }
        routes.add(new Route(pos, l, chosen, w));
        float[] out = ffn(h, b + "ffn_gate_shexp.weight", b + "ffn_up_shexp.weight", b + "ffn_down_shexp.weight", 0);
        for (int j = 0; j < topK; j++) {
            float[] y = ffn(h, b + "ffn_gate_exps.weight", b + "ffn_up_exps.weight", b + "ffn_down_exps.weight", chosen[j]);
            for (int i = 0; i < dim; i++) {
                out[i] += w[j] * y[i];
            }
        }
        add(x, out);
    }

    /**
     * Row i of head hh's key up-projection (kvLoraRank values: key dim i of the head as a function of the latent), from
     * attn_kv_b (whole: per head, nope key rows then vd value rows) or attn_k_b (split per head, stored transposed:
     * its rows are the latent's dims).
     */
    private float[] keyRow(String b, int hh, int i, int rank, int nope, int vd) {
        if (f.tensor(b + "attn_kv_b.weight") != null) {
            return row(b + "attn_kv_b.weight", hh * (nope + vd) + i);
        }
        float[] out = new float[rank];
        for (int c = 0; c < rank; c++) {
            out[c] = row(b + "attn_k_b.weight", hh * rank + c)[i];
        }
        return out;
    }

    /** Head hh's value from a cached latent, through attn_kv_b's value rows or attn_v_b. */
    private float[] valueOf(String b, int hh, float[] latent, int nope, int vd) {
        boolean whole = f.tensor(b + "attn_kv_b.weight") != null;
        float[] out = new float[vd];
        for (int i = 0; i < vd; i++) {
            out[i] = dot(whole ? row(b + "attn_kv_b.weight", hh * (nope + vd) + nope + i) : row(b + "attn_v_b.weight", hh * vd + i), latent);
        }
        return out;
    }

    /** SwiGLU FFN: down(silu(gate h) * up h), of one expert of a stacked tensor (or the only one). */
    private float[] ffn(float[] h, String gate, String up, String down, int expert) {
        int ff = (int) f.tensor(gate).dim(1);
        boolean oss = arch.equals("gpt-oss");
        float[] g = new float[ff];
        float[] u = new float[ff];
        for (int r = 0; r < ff; r++) {
            g[r] = dot(row(gate, expert * ff + r), h);
            u[r] = dot(row(up, expert * ff + r), h);
        }
        if (oss) { // per-expert biases, and the clamped SwiGLU: min(g, 7) * sigmoid(1.702 g) * (clamp(u, -7, 7) + 1)
            add(g, row(gate.replace(".weight", ".bias"), expert));
            add(u, row(up.replace(".weight", ".bias"), expert));
            for (int r = 0; r < ff; r++) {
                float gc = Math.min(g[r], 7f);
                float uc = Math.max(-7f, Math.min(u[r], 7f));
                g[r] = gc / (1 + (float) Math.exp(-1.702f * gc)) * (uc + 1);
            }
        } else {
            for (int r = 0; r < ff; r++) {
                g[r] = g[r] / (1 + (float) Math.exp(-g[r])) * u[r];
            }
        }
        float[] y = new float[dim];
        for (int r = 0; r < dim; r++) {
            y[r] = dot(row(down, expert * dim + r), g);
        }
        if (oss) {
            add(y, row(down.replace(".weight", ".bias"), expert));
        }
        return y;
    }

    private float[] perHeadNorm(float[] x, int n, float[] w) {
        float[] out = new float[x.length];
        for (int hh = 0; hh < n; hh++) {
            float[] head = java.util.Arrays.copyOfRange(x, hh * hd, (hh + 1) * hd);
            System.arraycopy(rmsNorm(head, w), 0, out, hh * hd, hd);
        }
        return out;
    }

    /** Rotates the first ropeDim values of n heads of {@code stride} values starting at {@code off}. */
    private void rope(float[] x, int off, int stride, int n, int pos, boolean neox) {
        int d = ropeDim;
        for (int hh = 0; hh < n; hh++) {
            for (int i = 0; i < d / 2; i++) {
                double theta = pos * Math.pow(ropeBase, -2.0 * i / d);
                double mscale = 1;
                if (yarnFactor > 0) {
                    // YaRN: pairs below index `low` keep theta (extrapolate), above `high` take theta / factor
                    // (interpolate), linearly mixed between; both q and k are scaled by 1 + 0.1 ln(factor), except
                    // in DeepSeek, whose correction goes to the attention scores instead.
                    double low = Math.max(0, Math.floor(yarnDim(32)));
                    double high = Math.min(d - 1, Math.ceil(yarnDim(1)));
                    double keep = 1 - Math.min(1, Math.max(0, (i - low) / Math.max(0.001, high - low)));
                    theta = theta / yarnFactor * (1 - keep) + theta * keep;
                    mscale = deepseek ? 1 : 1 + 0.1 * Math.log(yarnFactor);
                }
                int base = off + hh * stride;
                int a = neox ? base + i : base + 2 * i;
                int c = neox ? base + i + d / 2 : base + 2 * i + 1;
                float x0 = x[a];
                float x1 = x[c];
                x[a] = (float) ((x0 * Math.cos(theta) - x1 * Math.sin(theta)) * mscale);
                x[c] = (float) ((x0 * Math.sin(theta) + x1 * Math.cos(theta)) * mscale);
            }
        }
    }

    /** The pair index whose rotation completes {@code turns} turns over the original context. */
    private double yarnDim(double turns) {
        return ropeDim * Math.log(yarnOrigContext / (turns * 2 * Math.PI)) / (2 * Math.log(ropeBase));
    }

    private float[] rmsNorm(float[] x, float[] w) {
        double ss = 0;
        for (float v : x) {
            ss += v * v;
        }
        float scale = (float) (1 / Math.sqrt(ss / x.length + eps));
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i] * scale * w[i];
        }
        return out;
    }

    private static void softmax(float[] x) {
        float max = Float.NEGATIVE_INFINITY;
        for (float v : x) {
            max = Math.max(max, v);
        }
        float sum = 0;
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) Math.exp(x[i] - max);
            sum += x[i];
        }
        for (int i = 0; i < x.length; i++) {
            x[i] /= sum;
        }
    }

    private static int[] topK(float[] p, int k) {
        Integer[] idx = new Integer[p.length];
        for (int i = 0; i < p.length; i++) {
            idx[i] = i;
        }
        java.util.Arrays.sort(idx, (a, b) -> p[a] != p[b] ? Float.compare(p[b], p[a]) : Integer.compare(a, b));
        int[] out = new int[k];
        for (int i = 0; i < k; i++) {
            out[i] = idx[i];
        }
        return out;
    }

    private float[] matVec(String name, float[] x) {
        int rows = (int) f.tensor(name).dim(1);
        float[] y = new float[rows];
        for (int r = 0; r < rows; r++) {
            y[r] = dot(row(name, r), x);
        }
        return y;
    }

    private float[] vector(String name) {
        return row(name, 0);
    }

    private float[] row(String name, int r) {
        GgufTensor t = f.requireTensor(name);
        int cols = (int) t.dim(0);
        float[] out = new float[cols];
        Dequantize.row(t.type(), t.data(), r * t.type().bytesFor(cols), out, 0, cols);
        return out;
    }

    private static float dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += (double) a[i] * b[i];
        }
        return (float) s;
    }

    private static void add(float[] acc, float[] x) {
        for (int i = 0; i < acc.length; i++) {
            acc[i] += x[i];
        }
    }

    private static float[] toF16(float[] x) {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = f16(x[i]);
        }
        return out;
    }

    private static float f16(float x) {
        return Float.float16ToFloat(Float.floatToFloat16(x));
    }
}
