package moed.runtime.model;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The transformer families moed runs, named as llama.cpp names them in {@code general.architecture}, with what
 * sets each apart from the llama/Mixtral baseline. Everything else (shapes, expert counts, RoPE base) comes from
 * the file's metadata; what is here is what llama.cpp hard-codes per architecture in its graph builders.
 */
public enum Architecture {
    /** Llama and Mixtral: adjacent-pair RoPE, top-k weights renormalised to sum to one. */
    LLAMA("llama", false, QkNorm.NONE, true, "ffn_norm", false),
    /** Qwen3-MoE: NeoX RoPE, RMSNorm of each head's query and key before RoPE, top-k weights renormalised. */
    QWEN3MOE("qwen3moe", true, QkNorm.PER_HEAD, true, "ffn_norm", false),
    /**
     * Qwen1.5/2-MoE: NeoX RoPE, biases on q/k/v, routed weights used as the softmax gave them, and a shared expert
     * every token runs, its output scaled by a sigmoid gate.
     */
    QWEN2MOE("qwen2moe", true, QkNorm.NONE, false, "ffn_norm", false),
    /** OLMoE: NeoX RoPE, RMSNorm over the whole query and key projections, routed weights not renormalised. */
    OLMOE("olmoe", true, QkNorm.FULL, false, "ffn_norm", false),
    /**
     * gpt-oss: NeoX RoPE, biases on every projection, the router and the experts, a learned attention sink per
     * head, a sliding window on even layers (full attention on odd ones), and the clamped SwiGLU variant
     * ({@link moed.kernels.Ops#swigluOai}). Its routing (softmax over the top-k logits) equals softmax, top-k and
     * renormalisation. The FFN's norm is named post_attention_norm.
     */
    GPT_OSS("gpt-oss", true, QkNorm.NONE, true, "post_attention_norm", true),
    /**
     * DeepSeek-V2/V3 (and V2-Lite): multi-head latent attention ({@link ModelConfig.LatentShape}) with adjacent-pair
     * RoPE on a separate rotary slice of each head, leading dense layers, shared experts added unscaled, routing by
     * softmax or sigmoid (with V3's selection bias and expert groups, {@link moed.kernels.RouterScoring}), routed
     * weights renormalised only when expert_weights_norm says so, then scaled by expert_weights_scale.
     */
    DEEPSEEK2("deepseek2", false, QkNorm.NONE, false, "ffn_norm", false);

    /** Where query/key RMSNorm applies, if anywhere. */
    public enum QkNorm {
        NONE,
        /** One weight vector of the head size, applied to every head (Qwen3). */
        PER_HEAD,
        /** One weight vector over the whole projection (OLMoE). */
        FULL
    }

    private final String ggufName;
    private final boolean ropeNeox;
    private final QkNorm qkNorm;
    private final boolean normalizeTopK;
    private final String ffnNormName;
    private final boolean gptOss;

    Architecture(String ggufName, boolean ropeNeox, QkNorm qkNorm, boolean normalizeTopK, String ffnNormName, boolean gptOss) {
        this.ggufName = ggufName;
        this.ropeNeox = ropeNeox;
        this.qkNorm = qkNorm;
        this.normalizeTopK = normalizeTopK;
        this.ffnNormName = ffnNormName;
        this.gptOss = gptOss;
    }

    /** The tensor name (without blk.N. and .weight) of the norm before the FFN. */
    public String ffnNormName() {
        return ffnNormName;
    }

    /** Experts use the clamped SwiGLU of gpt-oss (alpha 1.702, limit 7) rather than plain SwiGLU. */
    public boolean clampedSwiglu() {
        return gptOss;
    }

    /** Whether this layer attends through the sliding window (when the model has one): gpt-oss's even layers. */
    public boolean slidingLayer(int layer) {
        return gptOss && layer % 2 == 0;
    }

    /** The name in {@code general.architecture} and the prefix of its metadata keys. */
    public String ggufName() {
        return ggufName;
    }

    /** NeoX RoPE rotates the pairs (i, i + rotDim/2); the llama layout rotates adjacent pairs (2i, 2i + 1). */
    public boolean ropeNeox() {
        return ropeNeox;
    }

    public QkNorm qkNorm() {
        return qkNorm;
    }

    /** Whether the top-k routing weights are renormalised to sum to one, when the metadata does not say. */
    public boolean normalizeTopKByDefault() {
        return normalizeTopK;
    }

    /** The architecture of this GGUF name, or null. */
    public static Architecture byName(String name) {
        for (Architecture a : values()) {
            if (a.ggufName.equals(name)) {
                return a;
            }
        }
        return null;
    }

    /** The supported names, for error messages. */
    public static String supportedNames() {
        return Arrays.stream(values()).map(Architecture::ggufName).collect(Collectors.joining(", "));
    }
}
