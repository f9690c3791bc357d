package moed.runtime;

import java.util.ArrayList;
import java.util.List;
import moed.kernels.Dequantize;
import moed.runtime.gguf.GgufFile;
import moed.runtime.gguf.GgufTensor;

/**
 * A plain, slow, one-token-at-a-time forward pass over a GGUF file's dequantized weights, written from llama.cpp's
 * graph builders (llama/Mixtral, qwen3moe, qwen2moe, olmoe, gpt-oss) without any of moed's runtime classes: it reads its own
 * hyperparameters and tensors, loops over plain float arrays, and spells each architecture's differences out where
 * they happen. The fast path must agree with it. Attention rounds as llama.cpp's non-flash path over its default
 * F16 cache does: keys and values are stored as F16, the query meets the keys as F16, and the probabilities meet
 * the values as F16.
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
        hd = f.getInt(p + "attention.key_length", dim / heads);
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
            rope(q, heads, pos, neox);
            rope(k, kvHeads, pos, neox);
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

    private void rope(float[] x, int n, int pos, boolean neox) {
        for (int hh = 0; hh < n; hh++) {
            for (int i = 0; i < hd / 2; i++) {
                double theta = pos * Math.pow(ropeBase, -2.0 * i / hd);
                double mscale = 1;
                if (yarnFactor > 0) {
                    // YaRN: pairs below index `low` keep theta (extrapolate), above `high` take theta / factor
                    // (interpolate), linearly mixed between; both q and k are scaled by 1 + 0.1 ln(factor).
                    double low = Math.max(0, Math.floor(yarnDim(32)));
                    double high = Math.min(hd - 1, Math.ceil(yarnDim(1)));
                    double keep = 1 - Math.min(1, Math.max(0, (i - low) / Math.max(0.001, high - low)));
                    theta = theta / yarnFactor * (1 - keep) + theta * keep;
                    mscale = 1 + 0.1 * Math.log(yarnFactor);
                }
                int a = neox ? hh * hd + i : hh * hd + 2 * i;
                int c = neox ? hh * hd + i + hd / 2 : hh * hd + 2 * i + 1;
                float x0 = x[a];
                float x1 = x[c];
                x[a] = (float) ((x0 * Math.cos(theta) - x1 * Math.sin(theta)) * mscale);
                x[c] = (float) ((x0 * Math.sin(theta) + x1 * Math.cos(theta)) * mscale);
            }
        }
    }

    /** The pair index whose rotation completes {@code turns} turns over the original context. */
    private double yarnDim(double turns) {
        return hd * Math.log(yarnOrigContext / (turns * 2 * Math.PI)) / (2 * Math.log(ropeBase));
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
