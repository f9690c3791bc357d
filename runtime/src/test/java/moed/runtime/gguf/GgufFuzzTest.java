package moed.runtime.gguf;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Thousands of mutated and truncated copies of a model's header region: each must either open
 * (the mutation was harmless) or fail with a GgufFormatException that names the file. Anything else, an
 * OutOfMemoryError, an index error, an IllegalArgumentException, fails the test.
 */
class GgufFuzzTest {
    @TempDir
    Path dir;

    @Test
    void shouldFailCleanlyOnMutatedAndTruncatedFiles() throws Exception {
        // A small synthetic model (a 300-token vocabulary, every metadata kind a model has) keeps each try cheap.
        Path seed = dir.resolve("seed.gguf");
        moed.runtime.model.SyntheticModel.write(new moed.runtime.model.SyntheticModel.Spec(1, 32, 2, 1, 2, 1, 32, 300,
                moed.kernels.GgmlType.Q8_0, 1, 64), seed, (d, t) -> { });
        byte[] original = Files.readAllBytes(seed);
        // The header (metadata with the vocabulary, tensor infos) is what the parser reads; mutate there.
        int headerEnd;
        try (GgufFile g = GgufFile.open(seed)) {
            headerEnd = (int) g.dataOffset();
        }
        SplittableRandom r = new SplittableRandom(1234);
        Path f = dir.resolve("fuzz.gguf");
        int rejected = 0;
        int accepted = 0;
        for (int i = 0; i < 3000; i++) {
            byte[] b;
            int kind = r.nextInt(4);
            if (kind == 0) {
                // Truncate anywhere in the header or the data.
                b = java.util.Arrays.copyOf(original, r.nextInt(original.length));
            } else {
                b = original.clone();
                int flips = 1 + r.nextInt(8);
                for (int j = 0; j < flips; j++) {
                    int at = kind == 1 ? r.nextInt(Math.min(64, headerEnd)) : r.nextInt(headerEnd);
                    b[at] = kind == 3 ? (byte) 0xFF : (byte) r.nextInt(256);
                }
            }
            Files.write(f, b);
            try (GgufFile g = GgufFile.open(f)) {
                accepted++;
                for (GgufTensor t : g.tensors().values()) {
                    t.data().byteSize();
                }
            } catch (GgufFormatException e) {
                assertTrue(e.getMessage().startsWith(f.toString()), "message names the file: " + e.getMessage());
                rejected++;
            } catch (Throwable t) {
                fail("mutation " + i + " (kind " + kind + ") escaped as " + t, t);
            }
        }
        assertTrue(rejected > 1000, "most mutations should be rejected; rejected " + rejected + ", accepted " + accepted);
    }
}
