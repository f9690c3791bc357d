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
        moed.kernels.Rope rope,
        // The factor on q . k before the softmax: 1/sqrt(head size), times DeepSeek's YaRN correction squared.
        float attentionScale,
        // Layers 0..leadingDenseLayers-1 run one dense FFN of denseFeedForward rows (DeepSeek), the rest experts.
        int leadingDenseLayers,
        int denseFeedForward,
        moed.kernels.RouterScoring.Gating gating,
        int expertGroups,
        int expertGroupsUsed,
        // DeepSeek's multi-head latent attention, or null.
        LatentShape latent) {

    /**
     * The shape of multi-head latent attention (DeepSeek-V2/V3): queries through an optional low-rank bottleneck
     * ({@code qLoraRank}, 0 when the query projection is direct, as in V2-Lite), keys and values through a shared
     * {@code kvLoraRank}-wide latent plus one {@code ropeDim}-wide rotary key shared by all heads. Each head's key
     * is {@code nopeDim + ropeDim} wide and its value {@code valueDim}. The cache holds the latent and the rotary
     * key only: kvLoraRank + ropeDim values per token per layer, whatever the number of heads.
     */
    public record LatentShape(int qLoraRank, int kvLoraRank, int nopeDim, int ropeDim, int valueDim) {
        public int cacheWidth() {
            return kvLoraRank + ropeDim;
        }
    }

    /** Whether layer l routes to experts (false for a dense model and for DeepSeek's leading dense layers). */
    public boolean isMoeLayer(int l) {
        return experts > 0 && l >= leadingDenseLayers;
    }

    /** Values per position per layer in the key cache: kv heads x head size, or MLA's latent and rotary key. */
    public int keyCacheWidth() {
        return latent != null ? latent.cacheWidth() : kvDim();
    }

    /** Values per position per layer in the value cache (0 for MLA: values are read from the latent). */
    public int valueCacheWidth() {
        return latent != null ? 0 : kvDim();
    }

    /** Width of the attention output that the output projection reads. */
    public int attentionOutDim() {
        return latent != null ? heads * latent.valueDim() : qDim();
    }

    /** The widest feed-forward hidden layer: routed expert, shared expert or dense FFN. */
    public int maxHidden() {
        return Math.max(Math.max(feedForward, sharedFeedForward), denseFeedForward);
    }

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
        boolean deepseek = arch == Architecture.DEEPSEEK2;
        // DeepSeek's latent attention comes in two spellings. llama.cpp's converter since April 2025 writes
        // head_count_kv 1 and key_length/value_length as the cached latent's widths (kv_lora_rank + rotary dims,
        // kv_lora_rank), with the per-head (decompressed) sizes as key_length_mla/value_length_mla; older
        // conversions, and ik_llama.cpp's converter, write head_count_kv = heads and the per-head sizes as
        // key_length/value_length. The *_mla keys tell them apart; moed runs both the same way (kvHeads plays no
        // part in latent attention).
        int headDim = f.getInt(p + "attention.key_length_mla", f.getInt(p + "attention.key_length", heads > 0 ? dim / heads : 0));
        int ropeDim = f.getInt(p + "rope.dimension_count", headDim);
        float base = f.getFloat(p + "rope.freq_base", 10000f);
        String scaling = f.has(p + "rope.scaling.type") ? f.getString(p + "rope.scaling.type") : "none";
        moed.kernels.Rope rope;
        boolean neox = arch.ropeNeox();
        float attnScale = (float) (1.0 / Math.sqrt(headDim));
        switch (scaling) {
            case "none" -> rope = moed.kernels.Rope.plain(ropeDim, base, 1f, neox);
            case "linear" -> rope = moed.kernels.Rope.plain(ropeDim, base, 1f / f.getFloat(p + "rope.scaling.factor", 1f), neox);
            case "yarn" -> {
                // llama.cpp's defaults: ramp between 32 and 1 rotations, full extrapolation mix.
                float factor = f.getFloat(p + "rope.scaling.factor", 1f);
                int orig = f.getInt(p + "rope.scaling.original_context_length", f.getInt(p + "context_length", 2048));
                YarnMagnitude m = YarnMagnitude.of(factor, f.getFloat(p + "rope.scaling.yarn_log_multiplier", 0f), deepseek);
                rope = moed.kernels.Rope.yarn(ropeDim, base, factor, orig, neox,
                        f.getFloat(p + "rope.scaling.yarn_beta_fast", 32f), f.getFloat(p + "rope.scaling.yarn_beta_slow", 1f),
                        f.getFloat(p + "rope.scaling.yarn_ext_factor", 1f), m.ropeAttnFactor());
                if (deepseek) {
                    attnScale *= m.deepseekScoreScale();
                }
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
        int leadingDense = f.getInt(p + "leading_dense_block_count", 0);
        // Only leading dense layers use feed_forward_length beside experts (Qwen3-MoE files carry an unused one).
        int denseFf = leadingDense > 0 ? f.getInt(p + "feed_forward_length", 0) : 0;
        // Qwen gives the shared expert's width; DeepSeek gives a count of shared experts of the routed width.
        int sharedFf = f.getInt(p + "expert_shared_feed_forward_length", f.getInt(p + "expert_shared_count", 0) * ff);
        int gatingFunc = f.getInt(p + "expert_gating_func", 0);
        moed.kernels.RouterScoring.Gating gating = switch (gatingFunc) {
            // 3 (softmax over the chosen experts' logits, gpt-oss) chooses and weighs as softmax then renormalisation.
            case 0, 1, 3 -> moed.kernels.RouterScoring.Gating.SOFTMAX;
            case 2 -> moed.kernels.RouterScoring.Gating.SIGMOID;
            default -> throw new GgufFormatException(f.path(), 0, p + "expert_gating_func " + gatingFunc
                    + " is not supported by moed; supported: 1 (softmax), 2 (sigmoid), 3 (softmax of the chosen)");
        };
        int groups = Math.max(1, f.getInt(p + "expert_group_count", 1));
        int groupsUsed = Math.max(1, f.getInt(p + "expert_group_used_count", groups));
        LatentShape latent = null;
        if (deepseek) {
            int kvLora = f.getInt(p + "attention.kv_lora_rank");
            int valueDim = f.getInt(p + "attention.value_length_mla", f.getInt(p + "attention.value_length", headDim));
            latent = new LatentShape(f.getInt(p + "attention.q_lora_rank", 0), kvLora, headDim - ropeDim, ropeDim, valueDim);
        }
        boolean normalize = gatingFunc == 3 || (f.has(p + "expert_weights_norm") ? f.getBool(p + "expert_weights_norm", true)
                : arch.normalizeTopKByDefault());
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
        } else if (groupsUsed > groups || (experts > 0 && experts % groups != 0)) {
            err = p + "expert_group_count " + groups + " must divide expert_count " + experts + " and be at least expert_group_used_count "
                    + groupsUsed;
        } else if (latent != null && (latent.nopeDim() < 1 || latent.kvLoraRank() < 1 || latent.valueDim() < 1)) {
            err = p + "attention.key_length " + headDim + " must exceed rope.dimension_count " + ropeDim
                    + ", and kv_lora_rank and value_length must be positive";
        } else if (leadingDense > 0 && denseFf <= 0) {
            err = p + "leading_dense_block_count is " + leadingDense + " but feed_forward_length is not set";
        }
        if (err != null) {
            throw new GgufFormatException(f.path(), 0, err);
        }
        return new ModelConfig(arch, layers, dim, heads, kvHeads, headDim, eps, ctx,
                experts, used, ff, vocab, normalize, weightsScale, sharedFf, f.getInt(p + "attention.sliding_window", 0), rope,
                attnScale, leadingDense, denseFf, gating, groups, groupsUsed, latent);
    }

    /**
     * The YaRN magnitude corrections as llama.cpp applies them. The rotated q and k are scaled by
     * attnFactor x (1 + 0.1 ln factor) inside ggml's RoPE; llama.cpp sets attnFactor so that this product is
     * 1 + 0.1 ln factor for most models, and for DeepSeek (whose files carry {@code yarn_log_multiplier}, 0.1 x
     * HF's mscale_all_dim) exactly 1, moving the correction to the attention scores instead, squared:
     * (1 + 0.1 mscale_all_dim ln factor)^2, as DeepSeek's reference code does.
     */
    record YarnMagnitude(float ropeAttnFactor, float deepseekScoreScale) {
        static YarnMagnitude of(float factor, float logMultiplier, boolean deepseek) {
            // llama.cpp reads DeepSeek's key divided by 0.1 (the convert script multiplied HF's mscale_all_dim by 0.1).
            float allDims = deepseek ? logMultiplier / 0.1f : logMultiplier;
            float attn;
            if (allDims != 0f) {
                float mscale = deepseek && allDims != 1f ? allDims : 1f;
                attn = mscale(factor, mscale) / mscale(factor, allDims);
            } else {
                attn = mscale(factor, 1f);
            }
            float ggmlMagnitude = 1f + 0.1f * (float) Math.log(factor);
            attn /= ggmlMagnitude;
            float original = attn * ggmlMagnitude;
            float m = original * (1f + 0.1f * allDims * (float) Math.log(factor));
            return new YarnMagnitude(attn, m * m);
        }

        private static float mscale(float scale, float m) {
            return scale <= 1f ? 1f : 0.1f * m * (float) Math.log(scale) + 1f;
        }
    }
}
