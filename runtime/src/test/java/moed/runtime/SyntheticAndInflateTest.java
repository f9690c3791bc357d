package moed.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import moed.kernels.GgmlType;
import moed.runtime.gguf.GgufFile;
import moed.runtime.model.ModelInflater;
import moed.runtime.model.SyntheticModel;
import moed.runtime.sampling.SamplerConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SyntheticAndInflateTest {
    @TempDir
    Path dir;

    static SyntheticModel.Spec small(GgmlType t, int experts) {
        return new SyntheticModel.Spec(2, 256, 8, 4, experts, 2, 256, 400, t, 7, 256);
    }

    @Test
    void shouldWriteReadableDeterministicModels() throws Exception {
        Path a = dir.resolve("a.gguf");
        Path b = dir.resolve("b.gguf");
        SyntheticModel.write(small(GgmlType.Q8_0, 4), a, (d, t) -> { });
        SyntheticModel.write(small(GgmlType.Q8_0, 4), b, (d, t) -> { });
        assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b), "same seed, same bytes");
        try (GgufFile g = GgufFile.open(a)) {
            assertEquals(3 + 2 * 10, g.tensors().size());
            assertEquals(4, g.getInt("llama.expert_count"));
            assertArrayEquals(new long[] {256, 256, 4}, g.requireTensor("blk.1.ffn_gate_exps.weight").dims());
        }
    }

    @Test
    void shouldGenerateTheSameGreedyTokensWithOneOrTwoThreads() throws Exception {
        for (GgmlType t : new GgmlType[] {GgmlType.Q8_0, GgmlType.Q4_K, GgmlType.F16}) {
            Path f = dir.resolve(t + ".gguf");
            SyntheticModel.write(small(t, t == GgmlType.F16 ? 0 : 4), f, (d, x) -> { });
            int[] one;
            int[] two;
            try (Engine e = Engine.open(f, 1, 128, 16)) {
                one = e.generate("the cat sat on the mat and", 24, SamplerConfig.GREEDY, null).generatedIds();
            }
            try (Engine e = Engine.open(f, 2, 128, 5)) {
                two = e.generate("the cat sat on the mat and", 24, SamplerConfig.GREEDY, null).generatedIds();
            }
            assertEquals(24, one.length, t + " generated the requested tokens");
            assertArrayEquals(one, two, t + ": 1 thread / batch 16 vs 2 threads / batch 5");
        }
    }

    @Test
    void shouldInflateTheDefaultModelWithoutChangingTokensOrRouting() throws Exception {
        Path out = dir.resolve("inflated.gguf");
        ModelInflater.inflate(TestFiles.defaultModel(), out, 512, null, 3, (d, t) -> { });
        long expectedGrowth;
        try (GgufFile src = GgufFile.open(TestFiles.defaultModel())) {
            // gate, up and down of 16 experts in 8 layers grow from 128 to 512 rows (or columns) of 256 Q8_0 weights.
            expectedGrowth = 8L * 3 * 16 * (512 - 128) * GgmlType.Q8_0.bytesFor(256);
            try (GgufFile inflated = GgufFile.open(out)) {
                // The header grows by a few metadata entries; the tensor data by exactly the new neurons.
                assertEquals(src.fileSize() - src.dataOffset() + expectedGrowth, inflated.fileSize() - inflated.dataOffset(),
                        "inflated tensor data size");
            }
        }
        String prompt = "The old king looked at the sea and said";
        List<String> routesA = new ArrayList<>();
        List<String> routesB = new ArrayList<>();
        int[] a;
        int[] b;
        try (Engine e = Engine.open(TestFiles.defaultModel(), 2, 256, 64)) {
            e.observe((s, p, l, ex, w, k, rerouted) -> routesA.add(p + ":" + l + ":" + java.util.Arrays.toString(java.util.Arrays.copyOf(ex, k))
                    + java.util.Arrays.toString(java.util.Arrays.copyOf(w, k))));
            a = e.generate(prompt, 24, SamplerConfig.GREEDY, null).generatedIds();
        }
        try (Engine e = Engine.open(out, 2, 256, 64)) {
            e.observe((s, p, l, ex, w, k, rerouted) -> routesB.add(p + ":" + l + ":" + java.util.Arrays.toString(java.util.Arrays.copyOf(ex, k))
                    + java.util.Arrays.toString(java.util.Arrays.copyOf(w, k))));
            b = e.generate(prompt, 24, SamplerConfig.GREEDY, null).generatedIds();
            assertEquals(512, e.model().expertLayout().layer(0).gate().rowsPerExpert());
        }
        assertArrayEquals(a, b, "tokens");
        assertEquals(routesA.size(), routesB.size(), "routing decisions");
        for (int i = 0; i < routesA.size(); i++) {
            assertEquals(routesA.get(i), routesB.get(i), "routing decision " + i + ", weights included, is bit for bit the same");
        }
    }

    @Test
    void shouldRefuseBadPromptsWithClearErrors() throws Exception {
        try (Engine e = Engine.open(TestFiles.defaultModel(), 1, 16, 8)) {
            assertTrue(assertThrows(IllegalArgumentException.class, () -> e.encodePrompt("")).getMessage().contains("empty"));
            String longPrompt = "word ".repeat(40);
            IllegalArgumentException x = assertThrows(IllegalArgumentException.class, () -> e.encodePrompt(longPrompt));
            assertTrue(x.getMessage().contains("the context holds 16"), x.getMessage());
            var s = e.newState();
            x = assertThrows(IllegalArgumentException.class, () -> e.transformer().forward(s, new int[] {5000}, 0, 1, 0));
            assertTrue(x.getMessage().contains("token id 5000 is outside the vocabulary of 2048"), x.getMessage());
        }
    }
}
