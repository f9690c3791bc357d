package moed.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import moed.kernels.GgmlType;
import moed.kernels.Ops;
import moed.runtime.gguf.GgufFile;
import moed.runtime.model.Architecture;
import moed.runtime.model.InferenceState;
import moed.runtime.model.SyntheticModel;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every architecture's fast path (batched prefill, threads, vector kernels) against {@link ScalarReference} on a
 * synthetic F32 model of that architecture: logits at every prompt and decode position, greedy tokens, and every
 * routing decision (experts and weights). The tolerances (1e-3 of the largest logit, 1e-3 on a routing weight) leave
 * room for summation order and for the F16 roundings of attention landing on the other side of a rounding boundary
 * now and then; a wrong step (a norm over the wrong span, a missing bias or gate) moves logits by 1e-2 and more.
 */
class ArchitectureParityTest {
    @TempDir
    Path dir;

    static SyntheticModel.Spec spec(Architecture a) {
        // A head size that is not dim / heads (as Qwen3's 128 with 2048 / 32), so q's width differs from the model's.
        // DeepSeek: heads of 48 (16 rotary, 32 not), values of 32, three layers (the first dense), one shared expert.
        boolean ds = a == Architecture.DEEPSEEK2;
        int headDim = a == Architecture.QWEN3MOE || ds ? 48 : 0;
        int shared = a == Architecture.QWEN2MOE ? 96 : ds ? 64 : 0;
        // gpt-oss: a window of 4 on even layers, so the prompt outgrows it. Weights stay F32 (MXFP4 experts would
        // meet Q8-quantized activations in the fast path, a 1% difference that would hide the ones this test is for;
        // the MXFP4 kernel has its own tests against the scalar dequantizer).
        // OLMoE has as many KV heads as heads (the synthesizer refuses fewer, as llama.cpp cannot load them).
        return new SyntheticModel.Spec(a, ds ? 3 : 2, 128, 4, a == Architecture.OLMOE ? 4 : 2, headDim, 8, a == Architecture.LLAMA ? 2 : 3, 64, shared, 400,
                GgmlType.F32, null, a == Architecture.GPT_OSS ? 4 : 0, 11, 128);
    }

    @ParameterizedTest
    @EnumSource(Architecture.class)
    void shouldMatchTheScalarReferenceForwardPass(Architecture arch) throws Exception {
        // DeepSeek by default as V3 shapes it: query bottleneck, sigmoid routing with selection bias and groups, the
        // latent's up-projection split per head.
        assertMatchesReference(arch.ggufName(), spec(arch));
    }

    /** DeepSeek-V2-Lite's shape: a direct query projection, softmax routing, the older whole attn_kv_b. */
    @org.junit.jupiter.api.Test
    void shouldMatchTheScalarReferenceForDeepSeekV2LiteShapedFiles() throws Exception {
        SyntheticModel.Spec v3 = spec(Architecture.DEEPSEEK2);
        var lite = new SyntheticModel.DeepSeek(0, 32, 16, 32, 1, 256, false, SyntheticModel.MlaConvention.LEGACY);
        assertMatchesReference("deepseek2-lite", new SyntheticModel.Spec(v3.arch(), v3.layers(), v3.dim(), v3.heads(), v3.kvHeads(),
                v3.headDim(), v3.experts(), v3.topK(), v3.expertFf(), v3.sharedFf(), v3.vocab(), v3.type(), null, 0, v3.seed(),
                v3.context(), lite));
    }

    /** {@code arch} names the case in messages and the file. */
    private void assertMatchesReference(String arch, SyntheticModel.Spec spec) throws Exception {
        Path file = dir.resolve(arch + ".gguf");
        SyntheticModel.write(spec, file, (d, t) -> { });
        int decode = 6;
        List<float[]> fastLogits = new ArrayList<>();
        // Keyed by (position, layer): prefill reports a layer's decisions for every token of the step together.
        java.util.TreeMap<Long, String> fastRoutes = new java.util.TreeMap<>();
        java.util.Map<Long, float[]> fastWeights = new java.util.HashMap<>();
        int[] prompt;
        int[] fastTokens = new int[decode];
        try (Engine e = Engine.open(file, 2, 64, 5)) {
            prompt = e.tokenizer().encode("The tide came in over the sand, and the gulls cried.", false);
            assertTrue(prompt.length > 5, "the prompt spans more than one prefill step");
            e.transformer().observe((s, p, l, ex, w, k, rerouted) -> {
                fastRoutes.put((long) p << 16 | l, p + ":" + l + ":" + java.util.Arrays.toString(java.util.Arrays.copyOf(ex, k)));
                fastWeights.put((long) p << 16 | l, java.util.Arrays.copyOf(w, k));
            });
            InferenceState s = e.transformer().newState(64, 5);
            for (int off = 0; off < prompt.length; off += 5) {
                int n = Math.min(5, prompt.length - off);
                e.transformer().forward(s, prompt, off, n, 0);
                for (int i = 0; i < n; i++) {
                    fastLogits.add(s.logits(i).clone());
                }
            }
            int next = Ops.argmax(fastLogits.getLast(), 0, fastLogits.getLast().length);
            for (int t = 0; t < decode; t++) {
                fastTokens[t] = next;
                e.transformer().forward(s, new int[] {next}, 0, 1, 0);
                fastLogits.add(s.logits(0).clone());
                next = Ops.argmax(s.logits(0), 0, s.logits(0).length);
            }
        }
        try (GgufFile f = GgufFile.open(file)) {
            ScalarReference ref = new ScalarReference(f);
            int[] refTokens = new int[decode];
            float[] logits = null;
            int pos = 0;
            for (int t : prompt) {
                logits = ref.forward(t);
                assertClose(logits, fastLogits.get(pos), arch + " prompt position " + pos++);
            }
            for (int t = 0; t < decode; t++) {
                refTokens[t] = Ops.argmax(logits, 0, logits.length);
                logits = ref.forward(refTokens[t]);
                assertClose(logits, fastLogits.get(pos), arch + " decode position " + pos++);
            }
            assertArrayEquals(refTokens, fastTokens, arch + ": greedy tokens");
            assertEquals(ref.routes.size(), fastRoutes.size(), arch + ": routing decisions");
            for (ScalarReference.Route r : ref.routes) {
                long key = (long) r.pos() << 16 | r.layer();
                assertEquals(r.pos() + ":" + r.layer() + ":" + java.util.Arrays.toString(r.experts()), fastRoutes.get(key),
                        arch + ": routing decision");
                assertArrayEquals(r.weights(), fastWeights.get(key), 1e-3f, arch + ": routing weights at " + fastRoutes.get(key));
            }
        }
    }

    private static void assertClose(float[] expected, float[] actual, String what) {
        float scale = 0;
        for (float v : expected) {
            scale = Math.max(scale, Math.abs(v));
        }
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], 1e-3f * Math.max(1f, scale), what + ", logit " + i);
        }
    }

    @org.junit.jupiter.api.Test
    void shouldNameAnUnsupportedArchitectureAndTheSupportedOnes() throws Exception {
        Path file = dir.resolve("dbrx.gguf");
        new moed.runtime.gguf.GgufWriter().putString("general.architecture", "dbrx").write(file);
        try (GgufFile f = GgufFile.open(file)) {
            var e = org.junit.jupiter.api.Assertions.assertThrows(moed.runtime.gguf.GgufFormatException.class,
                    () -> moed.runtime.model.Model.load(f));
            assertTrue(e.getMessage().contains("'dbrx'") && e.getMessage().contains("qwen3moe, qwen2moe, olmoe, gpt-oss, deepseek2"),
                    e.getMessage());
        }
    }

    @org.junit.jupiter.api.Test
    void anOlmoeWithFewerKvHeadsThanHeadsIsRefusedAsNoReleaseHasOne() {
        var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> new SyntheticModel.Spec(
                Architecture.OLMOE, 2, 128, 8, 4, 0, 8, 2, 64, 0, 400, GgmlType.F32, null, 0, 11, 128));
        assertTrue(e.getMessage().contains("--kv-heads 8"), e.getMessage());
    }
}
