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
    LLAMA("llama", false, QkNorm.NONE, true),
    /** Qwen3-MoE: NeoX RoPE, RMSNorm of each head's query and key before RoPE, top-k weights renormalised. */
    QWEN3MOE("qwen3moe", true, QkNorm.PER_HEAD, true),
    /**
     * Qwen1.5/2-MoE: NeoX RoPE, biases on q/k/v, routed weights used as the softmax gave them, and a shared expert
     * every token runs, its output scaled by a sigmoid gate.
     */
    QWEN2MOE("qwen2moe", true, QkNorm.NONE, false),
    /** OLMoE: NeoX RoPE, RMSNorm over the whole query and key projections, routed weights not renormalised. */
    OLMOE("olmoe", true, QkNorm.FULL, false);

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

    Architecture(String ggufName, boolean ropeNeox, QkNorm qkNorm, boolean normalizeTopK) {
        this.ggufName = ggufName;
        this.ropeNeox = ropeNeox;
        this.qkNorm = qkNorm;
        this.normalizeTopK = normalizeTopK;
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
