package moed.tools.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import moed.kernels.GgmlType;
import moed.runtime.gguf.GgufFile;
import moed.runtime.gguf.GgufTensor;
import moed.runtime.gguf.GgufWriter;
import moed.runtime.model.Model;
import moed.runtime.model.SyntheticModel;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code moed model info}'s tensor groups and routed experts by layer, on a synthesized file and on a copy of it
 * stored as a low-bit "dynamic" quantization stores its tensors: a format per role, and per layer for the experts.
 */
class ModelCommandInfoTest {
    @TempDir
    static Path dir;
    static Path uniform;
    static Path mixed;

    @BeforeAll
    static void write() throws IOException {
        // 4 layers of 8 experts; every row 256 wide, so any 256-weight block format fits.
        uniform = dir.resolve("uniform-q4_k.gguf");
        SyntheticModel.write(new SyntheticModel.Spec(4, 256, 8, 4, 8, 2, 256, 400, GgmlType.Q4_K, 3, 256), uniform, (d, t) -> { });
        mixed = dir.resolve("mixed.gguf");
        retype(uniform, mixed, name -> {
            int layer = Model.layerOf(name);
            if (name.equals("token_embd.weight")) {
                return GgmlType.Q8_0;
            } else if (name.equals("output.weight") || name.endsWith("attn_v.weight")) {
                return GgmlType.Q6_K;
            } else if (Model.isExpertTensor(name)) {
                boolean down = name.contains("ffn_down");
                return switch (layer) {
                    case 0, 1 -> down ? GgmlType.Q6_K : GgmlType.Q4_K;
                    case 2 -> GgmlType.IQ2_XXS;
                    default -> down ? GgmlType.IQ2_XXS : GgmlType.IQ1_S;
                };
            }
            return null;
        });
    }

    /** Copies a file's metadata and tensor table with some tensors' types changed; the data is zeros (info reads none). */
    private static void retype(Path src, Path dst, Function<String, GgmlType> type) throws IOException {
        try (GgufFile f = GgufFile.open(src)) {
            GgufWriter w = new GgufWriter().copyMetadata(f, k -> !k.equals("general.file_type"));
            for (GgufTensor t : f.tensors().values()) {
                GgmlType to = type.apply(t.name());
                w.addTensor(t.name(), to == null ? t.type() : to, t.dims(), d -> { });
            }
            w.write(dst);
        }
    }

    private static String text(Path file) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GgufFile f = GgufFile.open(file)) {
            ModelCommand.Info.printText(f, ModelCommand.Info.report(f), false, new PrintStream(out, true, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    private static JsonNode json(Path file) throws IOException {
        try (GgufFile f = GgufFile.open(file)) {
            return new ObjectMapper().readTree(Json.write(ModelCommand.Info.report(f)));
        }
    }

    private static List<String> section(String text, String header) {
        List<String> lines = text.lines().toList();
        int from = lines.indexOf(header);
        assertTrue(from >= 0, text);
        int to = from + 1;
        while (to < lines.size() && lines.get(to).startsWith("  ")) {
            to++;
        }
        return lines.subList(from + 1, to);
    }

    @Test
    void aUniformFileHasOneExpertLine() {
        String out = text(uniform);
        // One expert: gate, up and down of 256 x 256 Q4_K weights, 144 bytes a 256: 110,592 bytes.
        assertEquals(List.of("  layers 0-3: Q4_K gate/up/down, 4.50 bpw, 108.00 KiB per expert"), section(out, "routed experts by layer:"),
                out);
        assertTrue(out.contains("tensor types: F32 x"), out);
        assertTrue(out.contains(", Q4_K x"), out);
        assertTrue(out.contains(" (4.5 bpw)"), out);
    }

    @Test
    void aMixedFileShowsItsFormatsByGroupAndItsExpertsByLayer() {
        String out = text(mixed);
        assertEquals(List.of(
                "  layers 0-1: Q4_K gate/up, Q6_K down,     5.19 bpw, 124.50 KiB per expert",
                "  layer 2:    IQ2_XXS gate/up/down,        2.06 bpw,  49.50 KiB per expert",
                "  layer 3:    IQ1_S gate/up, IQ2_XXS down, 1.73 bpw,  41.50 KiB per expert"),
                section(out, "routed experts by layer:"), out);
        List<String> groups = section(out, String.format("%-17s %7s %15s %11s %6s  %s", "tensor groups", "tensors", "parameters",
                "bytes", "bpw", "formats"));
        assertEquals(List.of(
                // 102,400 weights: Q8_0 at 34 bytes a 32, Q6_K at 210 a 256.
                "  token embedding       1         102,400  106.25 KiB   8.50  Q8_0 x1",
                "  output                1         102,400   82.03 KiB   6.56  Q6_K x1",
                // Per layer q, k, o (163,840 weights) in Q4_K and v (32,768) in Q6_K: 119,040 bytes.
                "  attention            16         786,432  465.00 KiB   4.84  Q4_K x12, Q6_K x4",
                "  norms                 9           2,304    9.00 KiB  32.00  F32 x9",
                "  router                4           8,192   32.00 KiB  32.00  F32 x4",
                // 12 tensors of 2,048 blocks: 4 Q4_K (144 bytes), 2 Q6_K (210), 4 IQ2_XXS (66), 2 IQ1_S (50).
                "  routed experts       12       6,291,456    2.66 MiB   3.54  IQ2_XXS x4, Q4_K x4, IQ1_S x2, Q6_K x2",
                "  total                43       7,293,184    3.33 MiB   3.84"), groups, out);
        assertTrue(out.contains("IQ1_S x2 (1.5625 bpw)"), out);
        assertTrue(out.contains("IQ2_XXS x4 (2.0625 bpw)"), out);
    }

    @Test
    void jsonHasTheSameGroupsAndLayers() throws IOException {
        JsonNode j = json(mixed);
        JsonNode experts = null;
        for (JsonNode g : j.get("groups")) {
            if (g.get("group").asText().equals("routed experts")) {
                experts = g;
            }
        }
        assertEquals(12, experts.get("tensors").asInt());
        assertEquals(12L * 256 * 256 * 8, experts.get("parameters").asLong());
        long blocksPerTensor = 256L * 8;
        long bytes = blocksPerTensor * (4 * 144 + 2 * 210 + 4 * 66 + 2 * 50);
        assertEquals(bytes, experts.get("bytes").asLong());
        assertEquals(bytes * 8.0 / (12L * 256 * 256 * 8), experts.get("bits_per_weight").asDouble());
        assertEquals(Map.of("IQ2_XXS", 4, "Q4_K", 4, "IQ1_S", 2, "Q6_K", 2),
                new ObjectMapper().convertValue(experts.get("formats"), Map.class));

        JsonNode layers = j.get("expert_layers");
        assertEquals(3, layers.size());
        JsonNode first = layers.get(0);
        assertEquals(0, first.get("first_layer").asInt());
        assertEquals(1, first.get("last_layer").asInt());
        assertEquals("Q4_K", first.get("projections").get("gate").asText());
        assertEquals("Q6_K", first.get("projections").get("down").asText());
        assertEquals(8, first.get("experts").asInt());
        assertEquals(2 * 256 * 144 + 256 * 210, first.get("bytes_per_expert").asLong());
        assertEquals(5.1875, first.get("bits_per_weight").asDouble());
        assertEquals(2.0625, layers.get(1).get("bits_per_weight").asDouble());
        assertEquals(1.5625, j.get("type_bits_per_weight").get("IQ1_S").asDouble());
        assertEquals(j.get("parameters").asLong(), 7_293_184L);
    }
}
