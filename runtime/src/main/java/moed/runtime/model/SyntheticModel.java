package moed.runtime.model;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import moed.kernels.Bytes;
import moed.kernels.GgmlType;
import moed.kernels.Quantize;
import moed.runtime.config.Setting;
import moed.runtime.config.SettingException;
import moed.runtime.gguf.FileType;
import moed.runtime.gguf.GgufValueType;
import moed.runtime.gguf.GgufWriter;

/**
 * Writes a deterministic synthetic model of any supported architecture: random weights and a valid vocabulary
 * (SentencePiece-style for llama, byte-level BPE learned from English text for the others), for tests and
 * benchmarks of any size. Every tensor is generated from
 * (seed, tensor name), row by row, straight into the output mapping: nothing model-sized is held in memory.
 *
 * <p>F32/F16/BF16/Q8_0/Q4_0 weights are drawn as floats and quantized with the reference quantizers. K-quant
 * weights are drawn directly as random blocks (random 6-bit scales and quants): the reference K quantizer's
 * search costs ~1000 operations per weight, hours for a multi-GB benchmark model, and random weights need no
 * fidelity to any float original.
 */
public final class SyntheticModel {
    /**
     * What to write. {@code headDim} 0 means dim / heads; {@code expertType} null means {@code type};
     * {@code slidingWindow} is gpt-oss's window on even layers (0: none).
     */
    public record Spec(Architecture arch, int layers, int dim, int heads, int kvHeads, int headDim, int experts, int topK,
                       int expertFf, int sharedFf, int vocab, GgmlType type, GgmlType expertType, int slidingWindow,
                       long seed, int context, DeepSeek deepseek) {
        public Spec {
            if (headDim == 0 && heads > 0) {
                headDim = dim / heads;
            }
            if (expertType == null) {
                expertType = type;
            }
            if (layers < 1 || dim < 1 || heads < 1 || kvHeads < 1 || heads % kvHeads != 0) {
                throw new IllegalArgumentException("need layers, dim, heads >= 1 and heads a multiple of kv-heads");
            }
            if (headDim < 2 || headDim % 2 != 0) {
                throw new IllegalArgumentException("head size " + headDim + " must be even for RoPE (the head dimension, or dim / heads)");
            }
            if (experts < 0 || (experts > 0 && (topK < 1 || topK > experts))) {
                throw new IllegalArgumentException("top-k must be between 1 and the number of experts");
            }
            if (arch != Architecture.LLAMA && experts == 0) {
                throw new IllegalArgumentException(arch.ggufName() + " models have experts: give their number");
            }
            if (arch == Architecture.OLMOE && kvHeads != heads) {
                // Every OLMoE release has as many KV heads as heads, and llama.cpp sizes OLMoE's K norm by the model
                // width (heads x head size), so a file with fewer KV heads would not load there.
                throw new IllegalArgumentException("olmoe models have as many KV heads as heads (llama.cpp sizes their K norm"
                        + " by the model width): give --kv-heads " + heads + ", got " + kvHeads);
            }
            // Shapes llama.cpp's loader requires of the real architectures (a file without them would not load there).
            if ((arch == Architecture.QWEN2MOE || arch == Architecture.OLMOE) && heads * headDim != dim) {
                throw new IllegalArgumentException(arch.ggufName() + " models have heads x head size = dim (llama.cpp requires"
                        + " square query and output projections): " + heads + " x " + headDim + " != " + dim);
            }
            if (sharedFf > 0 && arch != Architecture.QWEN2MOE && arch != Architecture.DEEPSEEK2) {
                throw new IllegalArgumentException(arch.ggufName() + " models have no shared expert (--shared-ff is for qwen2moe"
                        + " and deepseek2)");
            }
            if (arch == Architecture.GPT_OSS && slidingWindow <= 0) {
                throw new IllegalArgumentException("gpt-oss models window the attention of every other layer: give"
                        + " --sliding-window (the released models use 128)");
            }
            if (arch == Architecture.QWEN2MOE && sharedFf <= 0) {
                throw new SettingException(Setting.SHARED_EXPERT_HIDDEN, "qwen2moe has a shared expert: give its hidden size");
            }
            if (vocab < 300) {
                throw new IllegalArgumentException("vocabulary must hold at least 300 tokens (256 bytes, specials, pieces)");
            }
            int q = heads * headDim;
            for (int n : new int[] {dim, expertFf, q, sharedFf}) {
                if (n % type.blockSize != 0) {
                    throw new IllegalArgumentException(type + " stores blocks of " + type.blockSize + " weights: dim " + dim
                            + ", expert-ff " + expertFf + ", heads x head-dim " + q + " and shared-ff " + sharedFf + " must be multiples");
                }
            }
            for (GgmlType t : new GgmlType[] {type, expertType}) {
                if (!Quantize.supports(t) && !t.isSuperBlock() && t != GgmlType.MXFP4) {
                    throw new IllegalArgumentException("moed cannot write " + t + " weights");
                }
            }
            if ((dim % expertType.blockSize != 0 || expertFf % expertType.blockSize != 0)) {
                throw new IllegalArgumentException(expertType + " stores blocks of " + expertType.blockSize
                        + " weights: dim and expert-ff must be multiples");
            }
            if (arch == Architecture.DEEPSEEK2) {
                if (deepseek == null) {
                    deepseek = DeepSeek.defaults(dim, headDim, expertFf);
                }
                deepseek.check(headDim, sharedFf, expertFf, layers, type);
            } else if (deepseek != null) {
                throw new IllegalArgumentException("latent-attention settings are for deepseek2 models only");
            }
        }

        /** Any architecture but DeepSeek's (whose latent-attention settings take their defaults). */
        public Spec(Architecture arch, int layers, int dim, int heads, int kvHeads, int headDim, int experts, int topK,
                    int expertFf, int sharedFf, int vocab, GgmlType type, GgmlType expertType, int slidingWindow,
                    long seed, int context) {
            this(arch, layers, dim, heads, kvHeads, headDim, experts, topK, expertFf, sharedFf, vocab, type, expertType,
                    slidingWindow, seed, context, null);
        }

        /** A Mixtral-style model (arch llama), head size dim / heads. */
        public Spec(int layers, int dim, int heads, int kvHeads, int experts, int topK, int expertFf, int vocab,
                    GgmlType type, long seed, int context) {
            this(Architecture.LLAMA, layers, dim, heads, kvHeads, 0, experts, topK, expertFf, 0, vocab, type, null, 0, seed, context);
        }
    }

    /**
     * How a DeepSeek file spells multi-head latent attention: its converters have written three conventions, and
     * real files of each are in use.
     */
    public enum MlaConvention {
        /**
         * llama.cpp's convert_hf_to_gguf.py since April 2025 (its PR 12801): attention.head_count_kv 1 (the heads
         * attend to one shared latent), attention.key_length/value_length the cached latent's widths (kv_lora_rank +
         * rotary dims, kv_lora_rank), the per-head sizes in key_length_mla/value_length_mla, and the latent's
         * up-projection split per head: attn_k_b [nope x rank x heads] (each head's key half, transposed) and
         * attn_v_b [rank x value x heads]. No attn_kv_b.
         */
        MAINLINE,
        /**
         * llama.cpp's converter before then: head_count_kv = heads, the per-head key and value sizes in
         * key_length/value_length, no *_mla keys, the up-projection whole as attn_kv_b [rank x heads * (nope +
         * value)].
         */
        LEGACY,
        /**
         * ik_llama.cpp's converter: LEGACY's keys and attn_kv_b, plus the same split as MAINLINE's flattened to two
         * dimensions: attn_k_b [nope x heads * rank] and attn_v_b [rank x heads * value].
         */
        IK
    }

    /**
     * A DeepSeek model's extra shape: the query's low-rank bottleneck (0: a direct query projection, as V2-Lite), the
     * latent's rank, the rotary slice of each head (the rest of headDim is the non-rotary part), each head's value
     * size, the leading dense layers and their FFN width, V3-style routing (sigmoid, selection bias, 4 expert groups
     * of which 2 are used, renormalised, scaled by 2.5) instead of V2's (softmax, no renormalisation), and the
     * convention the latent attention is written in. The shared expert count is sharedFf / expertFf. The same seed
     * gives the same weights in every convention (the split tensors are rearranged from the whole attn_kv_b), exactly
     * so for float types and for K-quant attn_v_b; quantized split key halves are quantized from the same floats,
     * and K-quant ones are drawn afresh.
     */
    public record DeepSeek(int qLoraRank, int kvLoraRank, int ropeDim, int valueDim, int denseLayers, int denseFf,
                           boolean v3Routing, MlaConvention convention) {
        /**
         * V2-style ratios: a third of each head rotary, values as wide as the non-rotary part, latent rank dim / 4 (at
         * least 32), query rank dim / 2, one dense layer 4 x expertFf wide, V3 routing, llama.cpp's current convention.
         */
        public static DeepSeek defaults(int dim, int headDim, int expertFf) {
            int rope = Math.max(2, headDim / 3 / 2 * 2);
            return new DeepSeek(dim / 2, Math.max(32, dim / 4), rope, headDim - rope, 1, 4 * expertFf, true,
                    MlaConvention.MAINLINE);
        }

        void check(int headDim, int sharedFf, int expertFf, int layers, GgmlType type) {
            if (ropeDim < 2 || ropeDim % 2 != 0 || ropeDim >= headDim) {
                throw new IllegalArgumentException("the rotary part " + ropeDim + " must be even and smaller than the head size " + headDim);
            }
            if (sharedFf % expertFf != 0) {
                throw new IllegalArgumentException("deepseek2's shared experts are as wide as routed ones: shared-ff " + sharedFf
                        + " must be a multiple of expert-ff " + expertFf);
            }
            if (convention == null) {
                throw new IllegalArgumentException("name the latent attention's convention (mainline, legacy or ik)");
            }
            if (denseLayers >= layers) {
                throw new IllegalArgumentException("need at least one MoE layer after the " + denseLayers + " dense ones");
            }
            for (int n : new int[] {qLoraRank, kvLoraRank, headDim - ropeDim, valueDim, denseFf}) {
                if (n % type.blockSize != 0) {
                    throw new IllegalArgumentException(type + " stores blocks of " + type.blockSize + " weights: q/kv ranks "
                            + qLoraRank + "/" + kvLoraRank + ", the non-rotary head part " + (headDim - ropeDim) + ", value size "
                            + valueDim + " and dense FFN width " + denseFf + " must be multiples");
                }
            }
        }
    }

    private SyntheticModel() {
    }

    public static void write(Spec s, Path out, GgufWriter.Progress progress) throws IOException {
        GgufWriter w = new GgufWriter();
        String a = s.arch.ggufName() + ".";
        boolean llama = s.arch == Architecture.LLAMA;
        int hd = s.headDim;
        int qDim = s.heads * hd;
        int kvDim = s.kvHeads * hd;
        w.putString("general.architecture", s.arch.ggufName());
        w.putString("general.name", "moed-synthetic-" + s.arch.ggufName());
        // Named, as llama.cpp names files, after the experts' type: they hold most of the bytes (and make gpt-oss's
        // MXFP4 experts an MXFP4_MOE file, as its real files are).
        FileType.put(w, s.expertType);
        w.putU32("general.quantization_version", 2); // ggml's, as every converted file carries
        w.putU32(a + "block_count", s.layers);
        w.putU32(a + "context_length", s.context);
        w.putU32(a + "embedding_length", s.dim);
        // DeepSeek's dense leading layers have their own width; elsewhere it is the experts' (llama) or unused.
        w.putU32(a + "feed_forward_length", s.deepseek != null ? s.deepseek.denseFf() : s.expertFf);
        w.putU32(a + "attention.head_count", s.heads);
        DeepSeek ds = s.deepseek;
        if (ds != null) {
            putDeepSeekMetadata(w, a, s);
        } else {
            w.putU32(a + "attention.head_count_kv", s.kvHeads);
            w.putU32(a + "attention.key_length", hd);
            w.putU32(a + "attention.value_length", hd);
            w.putU32(a + "rope.dimension_count", hd);
            // The released models' values: Mixtral and the Qwen MoEs 1e6, OLMoE 1e4, gpt-oss 150000.
            float ropeBase = switch (s.arch) {
                case OLMOE -> 10000f;
                case GPT_OSS -> 150000f;
                default -> 1000000f;
            };
            w.putF32(a + "rope.freq_base", ropeBase);
            boolean qwen = s.arch == Architecture.QWEN3MOE || s.arch == Architecture.QWEN2MOE;
            w.putF32(a + "attention.layer_norm_rms_epsilon", qwen ? 1e-6f : 1e-5f);
            if (s.experts > 0) {
                w.putU32(a + "expert_count", s.experts);
                w.putU32(a + "expert_used_count", s.topK);
                // Mixtral and OLMoE files size their experts by feed_forward_length (llama.cpp reads nothing else for them).
                if (!llama && s.arch != Architecture.OLMOE) {
                    w.putU32(a + "expert_feed_forward_length", s.expertFf);
                }
            }
            if (s.sharedFf > 0) {
                w.putU32(a + "expert_shared_feed_forward_length", s.sharedFf);
            }
        }
        if (s.slidingWindow > 0) {
            w.putU32(a + "attention.sliding_window", s.slidingWindow);
        }
        if (s.arch == Architecture.GPT_OSS) {
            // As gpt-oss files have it: YaRN from 4096 trained positions, factor 32.
            w.putString(a + "rope.scaling.type", "yarn");
            w.putF32(a + "rope.scaling.factor", 32f);
            w.putU32(a + "rope.scaling.original_context_length", 4096);
        }
        if (llama) {
            addVocabulary(w, s.vocab);
        } else {
            addBpeVocabulary(w, s.vocab, switch (s.arch) {
                case OLMOE -> "olmo";
                case GPT_OSS -> "gpt-4o";
                case DEEPSEEK2 -> "deepseek-v3";
                default -> "qwen2";
            });
        }
        boolean oss = s.arch == Architecture.GPT_OSS;
        long seed = s.seed;
        // Norm weights are ones for llama (as before); the newer architectures get weights around one, so a norm
        // applied with the wrong weights or over the wrong span changes the outputs and a test can see it.
        float norm = llama ? -1f : NOISY_NORM;
        tensor(w, "token_embd.weight", s.type, new long[] {s.dim, s.vocab}, 1.0f, seed);
        tensor(w, "output_norm.weight", GgmlType.F32, new long[] {s.dim}, norm, seed);
        tensor(w, "output.weight", s.type, new long[] {s.dim, s.vocab}, (float) (1 / Math.sqrt(s.dim)), seed);
        float wScale = (float) (1 / Math.sqrt(s.dim));
        for (int l = 0; l < s.layers; l++) {
            String p = "blk." + l + ".";
            tensor(w, p + "attn_norm.weight", GgmlType.F32, new long[] {s.dim}, norm, seed);
            if (ds != null) {
                latentAttentionTensors(w, p, s, norm);
            } else {
                tensor(w, p + "attn_q.weight", s.type, new long[] {s.dim, qDim}, wScale, seed);
                tensor(w, p + "attn_k.weight", s.type, new long[] {s.dim, kvDim}, wScale, seed);
                tensor(w, p + "attn_v.weight", s.type, new long[] {s.dim, kvDim}, wScale, seed);
                tensor(w, p + "attn_output.weight", s.type, new long[] {qDim, s.dim}, (float) (1 / Math.sqrt(qDim)), seed);
            }
            switch (s.arch.qkNorm()) {
                case PER_HEAD -> {
                    tensor(w, p + "attn_q_norm.weight", GgmlType.F32, new long[] {hd}, norm, seed);
                    tensor(w, p + "attn_k_norm.weight", GgmlType.F32, new long[] {hd}, norm, seed);
                }
                case FULL -> {
                    tensor(w, p + "attn_q_norm.weight", GgmlType.F32, new long[] {qDim}, norm, seed);
                    tensor(w, p + "attn_k_norm.weight", GgmlType.F32, new long[] {kvDim}, norm, seed);
                }
                case NONE -> {
                }
            }
            if (s.arch == Architecture.QWEN2MOE || oss) {
                tensor(w, p + "attn_q.bias", GgmlType.F32, new long[] {qDim}, 0.5f, seed);
                tensor(w, p + "attn_k.bias", GgmlType.F32, new long[] {kvDim}, 0.5f, seed);
                tensor(w, p + "attn_v.bias", GgmlType.F32, new long[] {kvDim}, 0.5f, seed);
            }
            if (oss) {
                tensor(w, p + "attn_output.bias", GgmlType.F32, new long[] {s.dim}, 0.1f, seed);
                tensor(w, p + "attn_sinks.weight", GgmlType.F32, new long[] {s.heads}, 1.5f, seed);
            }
            tensor(w, p + s.arch.ffnNormName() + ".weight", GgmlType.F32, new long[] {s.dim}, norm, seed);
            if (ds != null && l < ds.denseLayers()) {
                int ff = ds.denseFf();
                tensor(w, p + "ffn_gate.weight", s.type, new long[] {s.dim, ff}, wScale, seed);
                tensor(w, p + "ffn_up.weight", s.type, new long[] {s.dim, ff}, wScale, seed);
                tensor(w, p + "ffn_down.weight", s.type, new long[] {ff, s.dim}, (float) (1 / Math.sqrt(ff)), seed);
                continue;
            }
            if (s.experts > 0) {
                GgmlType et = s.expertType;
                // A sharper router than the projections, so routing is decisive as in trained models.
                tensor(w, p + "ffn_gate_inp.weight", GgmlType.F32, new long[] {s.dim, s.experts}, 4 * wScale, seed);
                tensor(w, p + "ffn_gate_exps.weight", et, new long[] {s.dim, s.expertFf, s.experts}, wScale, seed);
                tensor(w, p + "ffn_up_exps.weight", et, new long[] {s.dim, s.expertFf, s.experts}, wScale, seed);
                tensor(w, p + "ffn_down_exps.weight", et, new long[] {s.expertFf, s.dim, s.experts},
                        (float) (1 / Math.sqrt(s.expertFf)), seed);
                if (ds != null && ds.v3Routing()) {
                    // Large against sigmoid probabilities, so the bias changes which experts are chosen.
                    tensor(w, p + "exp_probs_b.bias", GgmlType.F32, new long[] {s.experts}, 0.3f, seed);
                }
                if (oss) {
                    tensor(w, p + "ffn_gate_inp.bias", GgmlType.F32, new long[] {s.experts}, 0.5f, seed);
                    // Wide enough that some gate and up values pass the clamp at +-7, so it is exercised.
                    tensor(w, p + "ffn_gate_exps.bias", GgmlType.F32, new long[] {s.expertFf, s.experts}, 5f, seed);
                    tensor(w, p + "ffn_up_exps.bias", GgmlType.F32, new long[] {s.expertFf, s.experts}, 5f, seed);
                    tensor(w, p + "ffn_down_exps.bias", GgmlType.F32, new long[] {s.dim, s.experts}, 0.1f, seed);
                }
            } else {
                tensor(w, p + "ffn_gate.weight", s.type, new long[] {s.dim, s.expertFf}, wScale, seed);
                tensor(w, p + "ffn_up.weight", s.type, new long[] {s.dim, s.expertFf}, wScale, seed);
                tensor(w, p + "ffn_down.weight", s.type, new long[] {s.expertFf, s.dim}, (float) (1 / Math.sqrt(s.expertFf)), seed);
            }
            if (s.sharedFf > 0) {
                if (ds == null) { // Qwen2-MoE gates its shared expert; DeepSeek adds its shared experts as they are
                    // {dim, 1}, as the converter writes Qwen2-MoE's (1, hidden) shared_expert_gate.
                    tensor(w, p + "ffn_gate_inp_shexp.weight", GgmlType.F32, new long[] {s.dim, 1}, wScale, seed);
                }
                tensor(w, p + "ffn_gate_shexp.weight", s.type, new long[] {s.dim, s.sharedFf}, wScale, seed);
                tensor(w, p + "ffn_up_shexp.weight", s.type, new long[] {s.dim, s.sharedFf}, wScale, seed);
                tensor(w, p + "ffn_down_shexp.weight", s.type, new long[] {s.sharedFf, s.dim},
                        (float) (1 / Math.sqrt(s.sharedFf)), seed);
            }
        }
        w.write(out, progress);
    }

    /**
     * DeepSeek's keys after head_count, as llama.cpp's convert_hf_to_gguf.py (DeepseekV2Model over TextModel) writes
     * them for DeepSeek-V2-Lite's and V3's configs, in the order it adds them; only the attention's keys differ by
     * convention. head_count_kv is 1 in llama.cpp's current convention (the converter turns MLA into one shared
     * key/value head), the config's num_key_value_heads (= heads) in the older ones: whatever the spec's kvHeads.
     */
    private static void putDeepSeekMetadata(GgufWriter w, String a, Spec s) {
        DeepSeek ds = s.deepseek;
        boolean mainline = ds.convention() == MlaConvention.MAINLINE;
        w.putU32(a + "attention.head_count_kv", mainline ? 1 : s.heads);
        // The configs' rope_scaling: YaRN x40 from 4096 positions, beta_fast 32, beta_slow 1.
        w.putString(a + "rope.scaling.type", "yarn");
        w.putF32(a + "rope.scaling.factor", 40f);
        w.putU32(a + "rope.scaling.original_context_length", 4096);
        w.putF32(a + "rope.scaling.yarn_beta_fast", 32f);
        w.putF32(a + "rope.scaling.yarn_beta_slow", 1f);
        w.putF32(a + "rope.freq_base", 10000f);
        w.putF32(a + "attention.layer_norm_rms_epsilon", 1e-6f);
        w.putU32(a + "expert_count", s.experts);
        w.putU32(a + "expert_used_count", s.topK);
        // n_group/topk_group: V3 routes within 4 of 8 groups (here 2 of 4), V2-Lite's config has one group.
        boolean grouped = ds.v3Routing() && s.experts % 4 == 0;
        w.putU32(a + "expert_group_count", grouped ? 4 : 1);
        w.putU32(a + "expert_group_used_count", grouped ? 2 : 1);
        w.putU32(a + "expert_gating_func", ds.v3Routing() ? 2 : 1);
        w.putU32(a + "leading_dense_block_count", ds.denseLayers());
        w.putU32(a + "vocab_size", s.vocab);
        if (ds.qLoraRank() > 0) {
            w.putU32(a + "attention.q_lora_rank", ds.qLoraRank());
        }
        w.putU32(a + "attention.kv_lora_rank", ds.kvLoraRank());
        if (mainline) {
            // One key/value head as wide as the cached latent (and rotary key); the decompressed per-head sizes apart.
            w.putU32(a + "attention.key_length", ds.kvLoraRank() + ds.ropeDim());
            w.putU32(a + "attention.value_length", ds.kvLoraRank());
            w.putU32(a + "attention.key_length_mla", s.headDim);
            w.putU32(a + "attention.value_length_mla", ds.valueDim());
        } else {
            w.putU32(a + "attention.key_length", s.headDim);
            w.putU32(a + "attention.value_length", ds.valueDim());
        }
        w.putU32(a + "expert_feed_forward_length", s.expertFf);
        w.putU32(a + "expert_shared_count", s.sharedFf / s.expertFf);
        w.putF32(a + "expert_weights_scale", ds.v3Routing() ? 2.5f : 1f);
        if (ds.v3Routing()) { // written only when norm_topk_prob is true
            w.putBool(a + "expert_weights_norm", true);
        }
        w.putU32(a + "rope.dimension_count", ds.ropeDim());
        // 0.1 x mscale_all_dim (V2-Lite's 0.707).
        w.putF32(a + "rope.scaling.yarn_log_multiplier", 0.0707f);
    }

    /** Multi-head latent attention's tensors, in the layout the spec names. */
    private static void latentAttentionTensors(GgufWriter w, String p, Spec s, float norm) {
        DeepSeek ds = s.deepseek;
        long seed = s.seed;
        int qWidth = s.heads * s.headDim;
        int nope = s.headDim - ds.ropeDim();
        int rank = ds.kvLoraRank();
        float wScale = (float) (1 / Math.sqrt(s.dim));
        if (ds.qLoraRank() > 0) {
            tensor(w, p + "attn_q_a.weight", s.type, new long[] {s.dim, ds.qLoraRank()}, wScale, seed);
            tensor(w, p + "attn_q_a_norm.weight", GgmlType.F32, new long[] {ds.qLoraRank()}, norm, seed);
            tensor(w, p + "attn_q_b.weight", s.type, new long[] {ds.qLoraRank(), qWidth}, (float) (1 / Math.sqrt(ds.qLoraRank())), seed);
        } else {
            tensor(w, p + "attn_q.weight", s.type, new long[] {s.dim, qWidth}, wScale, seed);
        }
        tensor(w, p + "attn_kv_a_mqa.weight", s.type, new long[] {s.dim, rank + ds.ropeDim()}, wScale, seed);
        tensor(w, p + "attn_kv_a_norm.weight", GgmlType.F32, new long[] {rank}, norm, seed);
        float upScale = (float) (1 / Math.sqrt(rank));
        // One set of weights, drawn as the whole attn_kv_b (per head: nope key rows, then value rows, rank wide) and
        // split as the converters split it.
        String whole = p + "attn_kv_b.weight";
        int per = nope + ds.valueDim();
        if (ds.convention() != MlaConvention.MAINLINE) {
            tensor(w, whole, s.type, new long[] {rank, (long) s.heads * per}, upScale, seed);
        }
        if (ds.convention() != MlaConvention.LEGACY) {
            boolean flat = ds.convention() == MlaConvention.IK;
            long[] kDims = flat ? new long[] {nope, (long) s.heads * rank} : new long[] {nope, rank, s.heads};
            long[] vDims = flat ? new long[] {rank, (long) s.heads * ds.valueDim()} : new long[] {rank, ds.valueDim(), s.heads};
            keyHalves(w, p + "attn_k_b.weight", s.type, kDims, whole, s.heads, rank, nope, per, upScale, seed);
            int vd = ds.valueDim();
            tensor(w, p + "attn_v_b.weight", s.type, vDims, upScale, nameSeed(seed, whole), r -> r / vd * per + nope + r % vd);
        }
        int out = s.heads * ds.valueDim();
        tensor(w, p + "attn_output.weight", s.type, new long[] {out, s.dim}, (float) (1 / Math.sqrt(out)), seed);
    }

    /** Marks a norm weight drawn around one (see {@link #tensor}). */
    private static final float NOISY_NORM = -2f;

    /** The special tokens of the synthetic BPE vocabulary: ChatML's, as Qwen writes them. */
    private static final String[] BPE_SPECIALS = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};

    /** ChatML, the format Qwen models use, as a Jinja chat template. */
    static final String CHATML_TEMPLATE = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
            + "message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /**
     * A GPT-2 byte-level BPE vocabulary learned from a sample of public-domain English (bundled with moed): the 256
     * byte characters, the merges learned until the vocabulary is full, then ChatML's special tokens (control).
     */
    static void addBpeVocabulary(GgufWriter w, int vocab, String pre) {
        List<String> tokens = new ArrayList<>();
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (int b = 0; b < 256; b++) {
            String t = String.valueOf(moed.runtime.tokenizer.ByteLevel.charOf(b));
            tokens.add(t);
            seen.add(t);
        }
        int room = vocab - 256 - BPE_SPECIALS.length;
        var learned = moed.runtime.tokenizer.BpeTrainer.train(trainingSample(),
                moed.runtime.tokenizer.PreTokenizer.named(pre), room);
        List<String> merges = new ArrayList<>();
        for (int i = 0; i < learned.merges().size() && tokens.size() < 256 + room; i++) {
            merges.add(learned.merges().get(i));
            if (seen.add(learned.tokens().get(i))) {
                tokens.add(learned.tokens().get(i));
            }
        }
        List<Integer> types = new ArrayList<>(java.util.Collections.nCopies(tokens.size(), 1));
        // The sample ran out of pairs worth merging: fill with pairs of learned tokens. No merge makes them, so
        // encoding never produces them, but a model can emit them and they print as text (reserved tokens would
        // print nothing, and a random model over a large vocabulary would mostly emit those).
        int learnedEnd = tokens.size();
        for (long i = 0; tokens.size() < vocab - BPE_SPECIALS.length; i++) {
            String first = tokens.get(learnedEnd > 256 ? 256 + (int) (i % (learnedEnd - 256)) : (int) (i % 256)); // learned
            String t = first + tokens.get((int) ((i * 7919 + 13) % learnedEnd));       // then any token
            if (seen.add(t)) {
                tokens.add(t);
                types.add(1);
            } else if (i > 100L * vocab) {
                tokens.add("<|reserved_" + i + "|>");
                types.add(5);
            }
        }
        int firstSpecial = tokens.size();
        for (String sp : BPE_SPECIALS) {
            tokens.add(sp);
            types.add(3);
        }
        w.putString("tokenizer.ggml.model", "gpt2");
        w.putString("tokenizer.ggml.pre", pre);
        w.putArray("tokenizer.ggml.tokens", GgufValueType.STRING, tokens);
        w.putArray("tokenizer.ggml.token_type", GgufValueType.INT32, types);
        w.putArray("tokenizer.ggml.merges", GgufValueType.STRING, merges);
        w.putU32("tokenizer.ggml.bos_token_id", firstSpecial);
        w.putU32("tokenizer.ggml.eos_token_id", firstSpecial + 2);
        w.putU32("tokenizer.ggml.padding_token_id", firstSpecial);
        w.putBool("tokenizer.ggml.add_bos_token", false);
        w.putString("tokenizer.chat_template", CHATML_TEMPLATE);
    }

    private static String trainingSample() {
        try (var in = moed.runtime.tokenizer.BpeTrainer.class.getResourceAsStream("bpe-training-sample.txt")) {
            if (in == null) {
                throw new IllegalStateException("moed's jar lacks moed/runtime/tokenizer/bpe-training-sample.txt");
            }
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * A SentencePiece-style vocabulary: unk, bos, eos, the 256 byte-fallback tokens, then pieces (the space
     * marker, letters, and letter pairs with and without the marker) with scores favouring longer pieces.
     */
    static void addVocabulary(GgufWriter w, int vocab) {
        List<String> tokens = new ArrayList<>();
        List<Float> scores = new ArrayList<>();
        List<Integer> types = new ArrayList<>();
        String[] specials = {"<unk>", "<s>", "</s>"};
        int[] specialTypes = {2, 3, 3};
        for (int i = 0; i < 3; i++) {
            tokens.add(specials[i]);
            scores.add(0f);
            types.add(specialTypes[i]);
        }
        for (int b = 0; b < 256; b++) {
            tokens.add(String.format("<0x%02X>", b));
            scores.add(0f);
            types.add(6);
        }
        List<String> pieces = new ArrayList<>();
        pieces.add("\u2581");
        String letters = "etaoinshrdlucmfwypvbgkjqxz";
        String punct = ".,;:!?'\"-()0123456789";
        for (char ch : (letters + letters.toUpperCase() + punct).toCharArray()) {
            pieces.add(String.valueOf(ch));
        }
        for (char a : letters.toCharArray()) {
            pieces.add("\u2581" + a);
        }
        outer:
        for (char a : letters.toCharArray()) {
            for (char b : letters.toCharArray()) {
                if (pieces.size() >= vocab - tokens.size()) {
                    break outer;
                }
                pieces.add("" + a + b);
                pieces.add("\u2581" + a + b);
            }
        }
        for (int i = 0; tokens.size() < vocab; i++) {
            String piece = i < pieces.size() ? pieces.get(i) : "\u2581tok" + i;
            tokens.add(piece);
            scores.add(-(float) i / 10f + piece.length());
            types.add(1);
        }
        w.putString("tokenizer.ggml.model", "llama");
        w.putArray("tokenizer.ggml.tokens", GgufValueType.STRING, tokens);
        w.putArray("tokenizer.ggml.scores", GgufValueType.FLOAT32, scores);
        w.putArray("tokenizer.ggml.token_type", GgufValueType.INT32, types);
        w.putU32("tokenizer.ggml.bos_token_id", 1);
        w.putU32("tokenizer.ggml.eos_token_id", 2);
        w.putU32("tokenizer.ggml.unknown_token_id", 0);
        w.putBool("tokenizer.ggml.add_bos_token", true);
        w.putBool("tokenizer.ggml.add_space_prefix", true);
    }

    /**
     * Declares a tensor whose rows are uniform random values of standard deviation {@code std} (or all ones
     * when std is negative: norm weights), generated per row from (seed, name, row) so rows can be made in
     * parallel and any row is reproducible alone.
     */
    static void tensor(GgufWriter w, String name, GgmlType type, long[] dims, float std, long seed) {
        tensor(w, name, type, dims, std, nameSeed(seed, name), r -> r);
    }

    private static long nameSeed(long seed, String name) {
        return seed * 0x9E3779B97F4A7C15L + name.hashCode();
    }

    /** As {@link #tensor}, row r drawn as row {@code drawnRow(r)} of the tensor whose name seed is given. */
    private static void tensor(GgufWriter w, String name, GgmlType type, long[] dims, float std, long nameSeed,
                               java.util.function.IntUnaryOperator drawnRow) {
        int cols = (int) dims[0];
        int rows = rows(dims);
        long rowBytes = type.bytesFor(cols);
        w.addTensor(name, type, dims, dst -> IntStream.range(0, rows).parallel().forEach(r -> {
            long off = r * rowBytes;
            if (type.isSuperBlock() || type == GgmlType.MXFP4) {
                randomBlocks(type, dst, off, cols / type.blockSize, std, new SplittableRandom(nameSeed * 31 + drawnRow.applyAsInt(r)));
                return;
            }
            float[] row = new float[cols];
            drawRow(nameSeed, drawnRow.applyAsInt(r), std, row);
            Quantize.row(type, row, 0, cols, dst, off);
        }));
    }

    /** The float values {@link #tensor} draws for row r of a tensor. */
    private static void drawRow(long nameSeed, int r, float std, float[] row) {
        SplittableRandom rnd = new SplittableRandom(nameSeed * 31 + r);
        float a = (float) (std * Math.sqrt(3));
        for (int i = 0; i < row.length; i++) {
            row[i] = std == NOISY_NORM ? (float) (1 + 0.25 * rnd.nextDouble(-1, 1))
                    : std < 0 ? 1f : (float) (rnd.nextDouble(-1, 1) * a);
        }
    }

    private static int rows(long[] dims) {
        long rows = 1;
        for (int i = 1; i < dims.length; i++) {
            rows *= dims[i];
        }
        return Math.toIntExact(rows);
    }

    /**
     * attn_k_b: each head's key rows of the whole attn_kv_b, transposed (row h * rank + c holds latent dim c's weight
     * for each of the head's nope key dims), as llama.cpp's converter stores them. K-quant weights cannot be
     * transposed block by block, so they are drawn afresh.
     */
    private static void keyHalves(GgufWriter w, String name, GgmlType type, long[] dims, String whole, int heads, int rank,
                                  int nope, int per, float std, long seed) {
        if (type.isSuperBlock() || type == GgmlType.MXFP4) {
            tensor(w, name, type, dims, std, seed);
            return;
        }
        long wholeSeed = nameSeed(seed, whole);
        long rowBytes = type.bytesFor(nope);
        w.addTensor(name, type, dims, dst -> IntStream.range(0, heads).parallel().forEach(h -> {
            float[][] keyRows = new float[nope][rank];
            for (int i = 0; i < nope; i++) {
                drawRow(wholeSeed, h * per + i, std, keyRows[i]);
            }
            float[] row = new float[nope];
            for (int c = 0; c < rank; c++) {
                for (int i = 0; i < nope; i++) {
                    row[i] = keyRows[i][c];
                }
                Quantize.row(type, row, 0, nope, dst, ((long) h * rank + c) * rowBytes);
            }
        }));
    }

    /** Random K-quant blocks whose dequantized values have roughly the standard deviation std. */
    private static void randomBlocks(GgmlType type, MemorySegment dst, long off, int blocks, float std, SplittableRandom rnd) {
        byte[] b = new byte[type.blockBytes];
        for (int i = 0; i < blocks; i++) {
            rnd.nextBytes(b);
            MemorySegment blk = dst.asSlice(off + (long) i * type.blockBytes, type.blockBytes);
            MemorySegment.copy(b, 0, blk, ValueLayout.JAVA_BYTE, 0, b.length);
            switch (type) {
                case Q4_K, Q5_K -> {
                    // w = d*sc*q - dmin*m with q uniform in [0, 15] (Q5_K: [0, 31]); choose d so sd(w) ~ std.
                    float levels = type == GgmlType.Q4_K ? 15 : 31;
                    blk.set(Bytes.LE_SHORT, 0, Float.floatToFloat16(std * 3.46f / (levels * 32)));
                    blk.set(Bytes.LE_SHORT, 2, Float.floatToFloat16(std * 1.73f / 32));
                }
                case Q6_K -> blk.set(Bytes.LE_SHORT, 208, Float.floatToFloat16(std * 1.73f / (32 * 64)));
                case Q2_K -> {
                    blk.set(Bytes.LE_SHORT, 80, Float.floatToFloat16(std * 3.46f / (3 * 8)));
                    blk.set(Bytes.LE_SHORT, 82, Float.floatToFloat16(std * 1.73f / 8));
                }
                case Q3_K -> blk.set(Bytes.LE_SHORT, 108, Float.floatToFloat16(std * 1.73f / (4 * 32)));
                // E8M0 scale 2^(e-128) times values of RMS ~5.85 (ggml's doubled E2M1 table).
                case MXFP4 -> blk.set(ValueLayout.JAVA_BYTE, 0, (byte) (128 + Math.round(Math.log(std / 5.85) / Math.log(2))));
                default -> throw new IllegalArgumentException("moed cannot write random " + type + " blocks");
            }
        }
    }
}
