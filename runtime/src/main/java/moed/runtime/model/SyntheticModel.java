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
import moed.runtime.gguf.GgufValueType;
import moed.runtime.gguf.GgufWriter;

/**
 * Writes a deterministic synthetic Mixtral-style model (arch {@code llama} with experts): random weights, a
 * valid SentencePiece-style vocabulary, for tests and benchmarks of any size. Every tensor is generated from
 * (seed, tensor name), row by row, straight into the output mapping: nothing model-sized is held in memory.
 *
 * <p>F32/F16/BF16/Q8_0/Q4_0 weights are drawn as floats and quantized with the reference quantizers. K-quant
 * weights are drawn directly as random blocks (random 6-bit scales and quants): the reference K quantizer's
 * search costs ~1000 operations per weight, hours for a multi-GB benchmark model, and random weights need no
 * fidelity to any float original.
 */
public final class SyntheticModel {
    public record Spec(int layers, int dim, int heads, int kvHeads, int experts, int topK, int expertFf, int vocab,
                       GgmlType type, long seed, int context) {
        public Spec {
            if (layers < 1 || dim < 1 || heads < 1 || kvHeads < 1 || heads % kvHeads != 0 || dim % heads != 0) {
                throw new IllegalArgumentException("need layers, dim, heads >= 1, heads a multiple of kv-heads and dim a multiple of heads");
            }
            if ((dim / heads) % 2 != 0) {
                throw new IllegalArgumentException("head size " + dim / heads + " must be even for RoPE");
            }
            if (experts < 0 || (experts > 0 && (topK < 1 || topK > experts))) {
                throw new IllegalArgumentException("top-k must be between 1 and the number of experts");
            }
            if (vocab < 300) {
                throw new IllegalArgumentException("vocabulary must hold at least 300 tokens (3 special, 256 bytes, pieces)");
            }
            if (dim % type.blockSize != 0 || expertFf % type.blockSize != 0) {
                throw new IllegalArgumentException(type + " stores blocks of " + type.blockSize + " weights: dim " + dim
                        + " and expert-ff " + expertFf + " must be multiples");
            }
            if (!Quantize.supports(type) && !type.isSuperBlock()) {
                throw new IllegalArgumentException("moed cannot write " + type + " weights");
            }
        }
    }

    private SyntheticModel() {
    }

    public static void write(Spec s, Path out, GgufWriter.Progress progress) throws IOException {
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", "llama");
        w.putString("general.name", "moed-synthetic");
        w.putU32("general.file_type", s.type.id);
        w.putU32("llama.block_count", s.layers);
        w.putU32("llama.context_length", s.context);
        w.putU32("llama.embedding_length", s.dim);
        w.putU32("llama.feed_forward_length", s.expertFf);
        w.putU32("llama.attention.head_count", s.heads);
        w.putU32("llama.attention.head_count_kv", s.kvHeads);
        w.putF32("llama.rope.freq_base", 10000f);
        w.putF32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
        w.putU32("llama.rope.dimension_count", s.dim / s.heads);
        if (s.experts > 0) {
            w.putU32("llama.expert_count", s.experts);
            w.putU32("llama.expert_used_count", s.topK);
        }
        addVocabulary(w, s.vocab);
        long seed = s.seed;
        int hd = s.dim / s.heads;
        tensor(w, "token_embd.weight", s.type, new long[] {s.dim, s.vocab}, 1.0f, seed);
        tensor(w, "output_norm.weight", GgmlType.F32, new long[] {s.dim}, -1f, seed);
        tensor(w, "output.weight", s.type, new long[] {s.dim, s.vocab}, (float) (1 / Math.sqrt(s.dim)), seed);
        float wScale = (float) (1 / Math.sqrt(s.dim));
        for (int l = 0; l < s.layers; l++) {
            String p = "blk." + l + ".";
            tensor(w, p + "attn_norm.weight", GgmlType.F32, new long[] {s.dim}, -1f, seed);
            tensor(w, p + "attn_q.weight", s.type, new long[] {s.dim, (long) s.heads * hd}, wScale, seed);
            tensor(w, p + "attn_k.weight", s.type, new long[] {s.dim, (long) s.kvHeads * hd}, wScale, seed);
            tensor(w, p + "attn_v.weight", s.type, new long[] {s.dim, (long) s.kvHeads * hd}, wScale, seed);
            tensor(w, p + "attn_output.weight", s.type, new long[] {(long) s.heads * hd, s.dim}, wScale, seed);
            tensor(w, p + "ffn_norm.weight", GgmlType.F32, new long[] {s.dim}, -1f, seed);
            if (s.experts > 0) {
                // A sharper router than the projections, so routing is decisive as in trained models.
                tensor(w, p + "ffn_gate_inp.weight", GgmlType.F32, new long[] {s.dim, s.experts}, 4 * wScale, seed);
                tensor(w, p + "ffn_gate_exps.weight", s.type, new long[] {s.dim, s.expertFf, s.experts}, wScale, seed);
                tensor(w, p + "ffn_up_exps.weight", s.type, new long[] {s.dim, s.expertFf, s.experts}, wScale, seed);
                tensor(w, p + "ffn_down_exps.weight", s.type, new long[] {s.expertFf, s.dim, s.experts},
                        (float) (1 / Math.sqrt(s.expertFf)), seed);
            } else {
                tensor(w, p + "ffn_gate.weight", s.type, new long[] {s.dim, s.expertFf}, wScale, seed);
                tensor(w, p + "ffn_up.weight", s.type, new long[] {s.dim, s.expertFf}, wScale, seed);
                tensor(w, p + "ffn_down.weight", s.type, new long[] {s.expertFf, s.dim}, (float) (1 / Math.sqrt(s.expertFf)), seed);
            }
        }
        w.write(out, progress);
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
        int cols = (int) dims[0];
        long rowsL = 1;
        for (int i = 1; i < dims.length; i++) {
            rowsL *= dims[i];
        }
        int rows = Math.toIntExact(rowsL);
        long rowBytes = type.bytesFor(cols);
        long nameSeed = seed * 0x9E3779B97F4A7C15L + name.hashCode();
        w.addTensor(name, type, dims, dst -> IntStream.range(0, rows).parallel().forEach(r -> {
            SplittableRandom rnd = new SplittableRandom(nameSeed * 31 + r);
            long off = r * rowBytes;
            if (type.isSuperBlock()) {
                randomBlocks(type, dst, off, cols / type.blockSize, std, rnd);
                return;
            }
            float[] row = new float[cols];
            float a = (float) (std * Math.sqrt(3));
            for (int i = 0; i < cols; i++) {
                row[i] = std < 0 ? 1f : (float) (rnd.nextDouble(-1, 1) * a);
            }
            Quantize.row(type, row, 0, cols, dst, off);
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
                default -> throw new IllegalArgumentException("moed cannot write random " + type + " blocks");
            }
        }
    }
}
