package moed.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import moed.kernels.GgmlType;
import moed.kernels.Ops;
import moed.runtime.gguf.GgufFile;
import moed.runtime.model.Architecture;
import moed.runtime.model.InferenceState;
import moed.runtime.model.ModelConfig;
import moed.runtime.model.SyntheticModel;
import moed.runtime.model.SyntheticModel.MlaConvention;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * DeepSeek files spell latent attention three ways (llama.cpp's converter since 2025, its older one, ik_llama.cpp's):
 * the same weights written in each must read as the same model. Each convention's keys and tensor shapes are checked
 * against what its converter writes, then moed's logits over a prompt and a greedy continuation are compared.
 */
class DeepSeekConventionsTest {
    @TempDir
    Path dir;

    /** V3's shape (query bottleneck, sigmoid routing with groups) or V2-Lite's (direct query, softmax routing). */
    private static SyntheticModel.Spec spec(boolean v3, GgmlType type, MlaConvention convention) {
        // Heads of 48 (16 rotary, 32 not), values of 32, a latent of 64 (wider than a head, as in the real models, so
        // the conventions' key lengths differ: 80 against 48); the first of three layers dense.
        var ds = new SyntheticModel.DeepSeek(v3 ? 64 : 0, 64, 16, 32, 1, 256, v3, convention);
        return new SyntheticModel.Spec(Architecture.DEEPSEEK2, 3, 128, 4, 4, 48, 8, 3, 64, 64, 400, type, null, 0, 7, 128, ds);
    }

    private Path write(boolean v3, GgmlType type, MlaConvention c) throws Exception {
        Path file = dir.resolve((v3 ? "v3-" : "v2lite-") + type + "-" + c + ".gguf");
        SyntheticModel.write(spec(v3, type, c), file, (d, t) -> { });
        return file;
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void shouldWriteEachConventionAsItsConverterDoes(boolean v3) throws Exception {
        int heads = 4;
        int rank = 64;
        int nope = 32;
        int value = 32;
        try (GgufFile f = GgufFile.open(write(v3, GgmlType.F32, MlaConvention.MAINLINE))) {
            // convert_hf_to_gguf.py: num_key_value_heads forced to 1, key/value lengths of the latent, *_mla per head.
            assertEquals(1, f.getInt("deepseek2.attention.head_count_kv"));
            assertEquals(rank + 16, f.getInt("deepseek2.attention.key_length"));
            assertEquals(rank, f.getInt("deepseek2.attention.value_length"));
            assertEquals(48, f.getInt("deepseek2.attention.key_length_mla"));
            assertEquals(value, f.getInt("deepseek2.attention.value_length_mla"));
            assertEquals(400, f.getInt("deepseek2.vocab_size"));
            assertEquals(v3, f.has("deepseek2.attention.q_lora_rank"));
            assertEquals(v3, f.has("deepseek2.expert_weights_norm"), "written only when norm_topk_prob is true");
            assertNull(f.tensor("blk.0.attn_kv_b.weight"));
            assertArrayEquals(new long[] {nope, rank, heads}, f.tensor("blk.0.attn_k_b.weight").dims());
            assertArrayEquals(new long[] {rank, value, heads}, f.tensor("blk.0.attn_v_b.weight").dims());
        }
        for (MlaConvention c : new MlaConvention[] {MlaConvention.LEGACY, MlaConvention.IK}) {
            try (GgufFile f = GgufFile.open(write(v3, GgmlType.F32, c))) {
                assertEquals(heads, f.getInt("deepseek2.attention.head_count_kv"), c.toString());
                assertEquals(48, f.getInt("deepseek2.attention.key_length"), c.toString());
                assertEquals(value, f.getInt("deepseek2.attention.value_length"), c.toString());
                assertFalse(f.has("deepseek2.attention.key_length_mla"), c.toString());
                assertFalse(f.has("deepseek2.attention.value_length_mla"), c.toString());
                assertArrayEquals(new long[] {rank, heads * (nope + value)}, f.tensor("blk.0.attn_kv_b.weight").dims(), c.toString());
                if (c == MlaConvention.IK) {
                    assertArrayEquals(new long[] {nope, heads * rank}, f.tensor("blk.0.attn_k_b.weight").dims());
                    assertArrayEquals(new long[] {rank, heads * value}, f.tensor("blk.0.attn_v_b.weight").dims());
                } else {
                    assertNull(f.tensor("blk.0.attn_k_b.weight"));
                    assertNull(f.tensor("blk.0.attn_v_b.weight"));
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void shouldReadTheSameShapeFromEveryConvention(boolean v3) throws Exception {
        ModelConfig.LatentShape expected = new ModelConfig.LatentShape(v3 ? 64 : 0, 64, 32, 16, 32);
        for (MlaConvention c : MlaConvention.values()) {
            try (GgufFile f = GgufFile.open(write(v3, GgmlType.F32, c))) {
                ModelConfig config = ModelConfig.from(f);
                assertEquals(expected, config.latent(), c.toString());
                assertEquals(48, config.headDim(), c.toString());
                assertEquals(4 * 32, config.attentionOutDim(), c.toString());
            }
        }
    }

    /** F32 weights: the split tensors hold exactly the whole one's values, and every logit is bit for bit the same. */
    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void shouldGiveIdenticalLogitsInEveryConvention(boolean v3) throws Exception {
        Run mainline = run(write(v3, GgmlType.F32, MlaConvention.MAINLINE));
        for (MlaConvention c : new MlaConvention[] {MlaConvention.LEGACY, MlaConvention.IK}) {
            Run other = run(write(v3, GgmlType.F32, c));
            assertArrayEquals(mainline.tokens, other.tokens, c + ": greedy tokens");
            assertEquals(mainline.logits.size(), other.logits.size());
            for (int i = 0; i < mainline.logits.size(); i++) {
                assertArrayEquals(mainline.logits.get(i), other.logits.get(i), c + ": logits at position " + i);
            }
        }
    }

    /**
     * F16 weights: the whole attn_kv_b's key half is transposed at load into F16, the type of the split attn_k_b that
     * the other conventions hold, so the same kernel (which rounds the query to F16, as ggml does for F16 weights)
     * sees the same values and the logits are again the same.
     */
    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void shouldGiveIdenticalLogitsWithF16Weights(boolean v3) throws Exception {
        Run mainline = run(write(v3, GgmlType.F16, MlaConvention.MAINLINE));
        for (MlaConvention c : new MlaConvention[] {MlaConvention.LEGACY, MlaConvention.IK}) {
            Run other = run(write(v3, GgmlType.F16, c));
            assertArrayEquals(mainline.tokens, other.tokens, c + ": greedy tokens");
            for (int i = 0; i < mainline.logits.size(); i++) {
                assertArrayEquals(mainline.logits.get(i), other.logits.get(i), c + ": logits at position " + i);
            }
        }
    }

    private record Run(List<float[]> logits, int[] tokens) {
    }

    /** Logits at every prompt position and over 8 greedy tokens, prefilled 5 tokens at a time on two threads. */
    private static Run run(Path file) throws Exception {
        List<float[]> logits = new ArrayList<>();
        int[] tokens = new int[8];
        try (Engine e = Engine.open(file, 2, 64, 5)) {
            int[] prompt = e.tokenizer().encode("The tide came in over the sand, and the gulls cried.", false);
            assertTrue(prompt.length > 5);
            InferenceState s = e.transformer().newState(64, 5);
            for (int off = 0; off < prompt.length; off += 5) {
                int n = Math.min(5, prompt.length - off);
                e.transformer().forward(s, prompt, off, n, 0);
                for (int i = 0; i < n; i++) {
                    logits.add(s.logits(i).clone());
                }
            }
            int next = Ops.argmax(logits.getLast(), 0, logits.getLast().length);
            for (int t = 0; t < tokens.length; t++) {
                tokens[t] = next;
                e.transformer().forward(s, new int[] {next}, 0, 1, 0);
                logits.add(s.logits(0).clone());
                next = Ops.argmax(s.logits(0), 0, s.logits(0).length);
            }
        }
        assertNotNull(logits.getFirst());
        return new Run(logits, tokens);
    }
}
