package moed.runtime.model;

import moed.runtime.gguf.GgufFile;
import moed.runtime.gguf.GgufFormatException;

/**
 * The hyperparameters of a model, read once from GGUF metadata ({@code <arch>.*} keys, as llama.cpp names
 * them). Missing or inconsistent keys give an error naming the key.
 */
public record ModelConfig(
        Architecture arch,
        int layers,
        int dim,
        int heads,
        int kvHeads,
        int headDim,
        float rmsEps,
        int contextLength,
        int experts,
        int expertsUsed,
        int feedForward,
        int vocab,
        boolean normalizeTopK,
        float expertWeightsScale,
        int sharedFeedForward,
        int slidingWindow,
        // RoPE as this model applies it: rotated dims, base, layout, linear or YaRN scaling.
        moed.kernels.Rope rope) {

    /** The first cache position a query at {@code pos} attends to in this layer. */
    public int attentionStart(int layer, int pos) {
        return slidingWindow > 0 && arch.slidingLayer(layer) ? Math.max(0, pos + 1 - slidingWindow) : 0;
    }

    /** The architecture's name in {@code general.architecture}. */
    public String architecture() {
        return arch.ggufName();
    }

    public boolean isMoe() {
        return experts > 0;
    }

    public int kvDim() {
        return kvHeads * headDim;
    }

    public int qDim() {
        return heads * headDim;
    }

    public static ModelConfig from(GgufFile f) {
        String name = f.getString("general.architecture");
        Architecture arch = Architecture.byName(name);
        if (arch == null) {
            throw new GgufFormatException(f.path(), 0, "architecture '" + name + "' is not supported by moed yet; supported: "
                    + Architecture.supportedNames());
        }
        String p = name + ".";
        int layers = f.getInt(p + "block_count");
        int dim = f.getInt(p + "embedding_length");
        int heads = f.getInt(p + "attention.head_count");
        int kvHeads = f.getInt(p + "attention.head_count_kv", heads);
        int headDim = f.getInt(p + "attention.key_length", heads > 0 ? dim / heads : 0);
        int ropeDim = f.getInt(p + "rope.dimension_count", headDim);
        float base = f.getFloat(p + "rope.freq_base", 10000f);
        String scaling = f.has(p + "rope.scaling.type") ? f.getString(p + "rope.scaling.type") : "none";
        moed.kernels.Rope rope;
        boolean neox = arch.ropeNeox();
        switch (scaling) {
            case "none" -> rope = moed.kernels.Rope.plain(ropeDim, base, 1f, neox);
            case "linear" -> rope = moed.kernels.Rope.plain(ropeDim, base, 1f / f.getFloat(p + "rope.scaling.factor", 1f), neox);
            case "yarn" -> {
                // llama.cpp's defaults: ramp between 32 and 1 rotations, full extrapolation mix, attention factor 1.
                float factor = f.getFloat(p + "rope.scaling.factor", 1f);
                int orig = f.getInt(p + "rope.scaling.original_context_length", f.getInt(p + "context_length", 2048));
                rope = moed.kernels.Rope.yarn(ropeDim, base, factor, orig, neox,
                        f.getFloat(p + "rope.scaling.yarn_beta_fast", 32f), f.getFloat(p + "rope.scaling.yarn_beta_slow", 1f),
                        f.getFloat(p + "rope.scaling.yarn_ext_factor", 1f), 1f);
            }
            default -> throw new GgufFormatException(f.path(), 0, "RoPE scaling '" + scaling + "' (" + p + "rope.scaling.type) is not "
                    + "supported by moed yet; supported: none, linear, yarn");
        }
        float eps = f.getFloat(p + "attention.layer_norm_rms_epsilon", 1e-5f);
        int ctx = f.getInt(p + "context_length", 2048);
        int experts = f.getInt(p + "expert_count", 0);
        int used = f.getInt(p + "expert_used_count", 0);
        int ff = f.getInt(p + "expert_feed_forward_length", 0);
        if (ff == 0) {
            ff = f.getInt(p + "feed_forward_length", 0);
        }
        int sharedFf = f.getInt(p + "expert_shared_feed_forward_length", 0);
        boolean normalize = f.has(p + "expert_weights_norm") ? f.getBool(p + "expert_weights_norm", true)
                : arch.normalizeTopKByDefault();
        // llama.cpp scales the routing weights only when the key is there (DeepSeek, OLMoE variants); 0 means "not set".
        float weightsScale = f.getFloat(p + "expert_weights_scale", 0f);
        if (weightsScale == 0f) {
            weightsScale = 1f;
        }
        int vocab = f.has(p + "vocab_size") ? f.getInt(p + "vocab_size")
                : f.has("tokenizer.ggml.tokens") ? f.getArray("tokenizer.ggml.tokens").size()
                : (int) f.requireTensor("token_embd.weight").dim(1);
        String err = null;
        if (layers <= 0) {
            err = p + "block_count must be positive, is " + layers;
        } else if (dim <= 0 || heads <= 0) {
            err = p + "embedding_length and attention.head_count must be positive (" + dim + ", " + heads + ")";
        } else if (kvHeads <= 0 || heads % kvHeads != 0) {
            err = p + "attention.head_count " + heads + " is not a multiple of head_count_kv " + kvHeads;
        } else if (ropeDim > headDim || ropeDim % 2 != 0) {
            err = p + "rope.dimension_count " + ropeDim + " must be even and at most the head size " + headDim;
        } else if (experts > 0 && (used <= 0 || used > experts)) {
            err = p + "expert_used_count " + used + " must be between 1 and expert_count " + experts;
        }
        if (err != null) {
            throw new GgufFormatException(f.path(), 0, err);
        }
        return new ModelConfig(arch, layers, dim, heads, kvHeads, headDim, eps, ctx,
                experts, used, ff, vocab, normalize, weightsScale, sharedFf, f.getInt(p + "attention.sliding_window", 0), rope);
    }
}
