package moed.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import moed.kernels.GgmlType;
import moed.kernels.WeightMatrix;
import moed.runtime.gguf.GgufFile;
import moed.runtime.gguf.GgufTensor;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * moed's reference dequantizers against ggml's, on files quantized by llama.cpp's own quantizer (see
 * {@code resources/low-bit/README.md}): every quantized tensor of each file, dequantized by moed, must give
 * exactly the floats ggml's {@code to_float} gave (their SHA-256 over the little-endian floats, recorded with the
 * file). Between them the two files hold every low-bit format moed computes: Q2_K, Q3_K, IQ1_S, IQ1_M, IQ2_XXS,
 * IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S and IQ4_XS, next to Q4_K, Q5_K, Q6_K and Q8_0.
 */
class LowBitKnownAnswerTest {
    static final Set<GgmlType> LOW_BIT = EnumSet.of(GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.IQ1_S, GgmlType.IQ1_M,
            GgmlType.IQ2_XXS, GgmlType.IQ2_XS, GgmlType.IQ2_S, GgmlType.IQ3_XXS, GgmlType.IQ3_S, GgmlType.IQ4_XS);

    @TempDir
    Path tmp;

    /** A fixture copied out of the test resources into {@code dir} (the GGUF reader maps files). */
    static Path fixture(Path dir, String name) throws IOException {
        return copy(name, dir.resolve(name));
    }

    /** Copies test resource low-bit/{@code name} to {@code to}. */
    static Path copy(String name, Path to) throws IOException {
        try (InputStream in = LowBitKnownAnswerTest.class.getResourceAsStream("/low-bit/" + name)) {
            assertTrue(in != null, "test resource low-bit/" + name + " is missing");
            Files.copy(in, to);
        }
        return to;
    }

    @ParameterizedTest
    @ValueSource(strings = {"dynamic", "mixed"})
    void everyTensorDequantizesAsGgmlDoes(String name) throws Exception {
        Path file = fixture(tmp, name + ".gguf");
        List<String> failures = new ArrayList<>();
        int checked = 0;
        try (GgufFile gguf = GgufFile.open(file);
             InputStream in = getClass().getResourceAsStream("/low-bit/" + name + ".dequantized.tsv")) {
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                String[] f = line.split("\t");
                GgufTensor t = gguf.requireTensor(f[0]);
                assertEquals(f[1], t.type().name(), f[0] + ": type");
                assertEquals(Long.parseLong(f[2]), t.elements(), f[0] + ": elements");
                float[] mine = dequantize(t);
                String hash = sha256(mine);
                if (!hash.equals(f[3])) {
                    String[] first = f[4].split(" ");
                    StringBuilder diff = new StringBuilder();
                    for (int i = 0; i < first.length; i++) {
                        diff.append(String.format(" [%d] ggml %s moed %s", i, Float.parseFloat(first[i]), mine[i]));
                    }
                    failures.add(f[0] + " (" + f[1] + "): dequantized floats differ from ggml's;" + diff);
                }
                checked++;
            }
        }
        if (!failures.isEmpty()) {
            fail(String.join("\n", failures));
        }
        assertEquals(16, checked, "quantized tensors checked");
    }

    /** The files between them use every low-bit format. */
    @ParameterizedTest
    @ValueSource(strings = {"dynamic,mixed"})
    void theFixturesCoverEveryLowBitFormat(String names) throws Exception {
        Set<GgmlType> seen = EnumSet.noneOf(GgmlType.class);
        for (String name : names.split(",")) {
            try (GgufFile gguf = GgufFile.open(fixture(tmp, name + ".gguf"))) {
                gguf.tensors().values().forEach(t -> seen.add(t.type()));
            }
        }
        assertTrue(seen.containsAll(LOW_BIT), "formats in the fixtures: " + seen);
    }

    static float[] dequantize(GgufTensor t) {
        WeightMatrix m = t.asMatrix();
        float[] row = new float[m.cols()];
        float[] y = new float[(int) t.elements()];
        for (int r = 0; r < m.rows(); r++) {
            m.dequantizeRow(r, row);
            System.arraycopy(row, 0, y, r * m.cols(), m.cols());
        }
        return y;
    }

    static String sha256(float[] v) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b.array()));
    }
}
