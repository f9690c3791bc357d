package moed.runtime.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.file.Path;
import java.util.Map;
import moed.kernels.GgmlType;
import moed.runtime.model.Architecture;
import moed.runtime.model.ModelInflater;
import moed.runtime.model.SyntheticModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileTypeTest {
    @TempDir
    Path dir;

    /** The values of llama.h's enum llama_ftype, copied by hand so that a slip in FileType cannot hide here. */
    private static final Map<String, Integer> LLAMA_H = Map.ofEntries(
            Map.entry("ALL_F32", 0), Map.entry("MOSTLY_F16", 1), Map.entry("MOSTLY_Q4_0", 2), Map.entry("MOSTLY_Q4_1", 3),
            Map.entry("MOSTLY_Q8_0", 7), Map.entry("MOSTLY_Q5_0", 8), Map.entry("MOSTLY_Q5_1", 9), Map.entry("MOSTLY_Q2_K", 10),
            Map.entry("MOSTLY_Q3_K_S", 11), Map.entry("MOSTLY_Q3_K_M", 12), Map.entry("MOSTLY_Q3_K_L", 13),
            Map.entry("MOSTLY_Q4_K_S", 14), Map.entry("MOSTLY_Q4_K_M", 15), Map.entry("MOSTLY_Q5_K_S", 16),
            Map.entry("MOSTLY_Q5_K_M", 17), Map.entry("MOSTLY_Q6_K", 18), Map.entry("MOSTLY_IQ2_XXS", 19),
            Map.entry("MOSTLY_IQ2_XS", 20), Map.entry("MOSTLY_Q2_K_S", 21), Map.entry("MOSTLY_IQ3_XS", 22),
            Map.entry("MOSTLY_IQ3_XXS", 23), Map.entry("MOSTLY_IQ1_S", 24), Map.entry("MOSTLY_IQ4_NL", 25),
            Map.entry("MOSTLY_IQ3_S", 26), Map.entry("MOSTLY_IQ3_M", 27), Map.entry("MOSTLY_IQ2_S", 28),
            Map.entry("MOSTLY_IQ2_M", 29), Map.entry("MOSTLY_IQ4_XS", 30), Map.entry("MOSTLY_IQ1_M", 31),
            Map.entry("MOSTLY_BF16", 32), Map.entry("MOSTLY_TQ1_0", 36), Map.entry("MOSTLY_TQ2_0", 37),
            Map.entry("MOSTLY_MXFP4_MOE", 38));

    @Test
    void shouldNumberEveryFileTypeAsLlamaCppDoes() {
        assertEquals(LLAMA_H.size(), FileType.values().length);
        for (FileType f : FileType.values()) {
            assertEquals(LLAMA_H.get(f.name()), f.id, f.name());
            assertEquals(f, FileType.byId(f.id));
        }
        assertNull(FileType.byId(4), "Q4_1_SOME_F16 was removed");
    }

    @Test
    void shouldNameFilesAfterTheirMainWeightTypeAsLlamaCppGuessesIt() {
        assertEquals(FileType.MOSTLY_Q8_0, FileType.mostly(GgmlType.Q8_0));
        assertEquals(FileType.MOSTLY_Q4_K_M, FileType.mostly(GgmlType.Q4_K));
        assertEquals(FileType.MOSTLY_Q3_K_M, FileType.mostly(GgmlType.Q3_K));
        assertEquals(FileType.MOSTLY_BF16, FileType.mostly(GgmlType.BF16));
        assertEquals(FileType.ALL_F32, FileType.mostly(GgmlType.F32));
        assertNull(FileType.mostly(GgmlType.Q8_K), "llama.cpp has no Q8_K file type");
    }

    @Test
    void shouldWriteLlamaCppsFileTypeInSyntheticAndInflatedModels() throws Exception {
        // Each type moed model synth writes: the stored number is llama.h's, not the tensor type's id.
        for (GgmlType t : new GgmlType[] {GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0,
                GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K}) {
            Path f = dir.resolve(t + ".gguf");
            SyntheticModel.write(new SyntheticModel.Spec(1, 256, 8, 4, 4, 2, 256, 400, t, 7, 64), f, (d, x) -> { });
            try (GgufFile g = GgufFile.open(f)) {
                assertEquals(FileType.mostly(t).id, g.getLong(FileType.KEY), t + " file");
            }
        }
        try (GgufFile g = GgufFile.open(synth(GgmlType.Q8_0))) {
            assertEquals(7, g.getLong(FileType.KEY), "a Q8_0 file is LLAMA_FTYPE_MOSTLY_Q8_0 (7), not 8 (MOSTLY_Q5_0)");
            assertEquals("Q8_0", FileType.describe(g));
        }
        Path oss = dir.resolve("oss.gguf");
        SyntheticModel.write(new SyntheticModel.Spec(Architecture.GPT_OSS, 1, 256, 8, 4, 32, 4, 2, 256, 0, 400,
                GgmlType.Q8_0, GgmlType.MXFP4, 128, 7, 64), oss, (d, x) -> { });
        try (GgufFile g = GgufFile.open(oss)) {
            assertEquals("MXFP4_MOE", FileType.describe(g), "gpt-oss's MXFP4 experts, as its real files are labelled");
        }
        Path requantized = dir.resolve("q4k.gguf");
        ModelInflater.inflate(synth(GgmlType.Q8_0), requantized, 512, GgmlType.Q4_K, 3, (d, x) -> { });
        try (GgufFile g = GgufFile.open(requantized)) {
            assertEquals(15, g.getLong(FileType.KEY), "re-quantized to Q4_K: MOSTLY_Q4_K_M");
        }
        Path kept = dir.resolve("kept.gguf");
        ModelInflater.inflate(synth(GgmlType.Q8_0), kept, 512, null, 3, (d, x) -> { });
        try (GgufFile g = GgufFile.open(kept)) {
            assertEquals(7, g.getLong(FileType.KEY), "types kept: the source's file type");
        }
    }

    private Path synth(GgmlType t) throws Exception {
        Path f = dir.resolve("src-" + t + ".gguf");
        if (!f.toFile().exists()) {
            SyntheticModel.write(new SyntheticModel.Spec(1, 256, 8, 4, 4, 2, 256, 400, t, 7, 64), f, (d, x) -> { });
        }
        return f;
    }
}
