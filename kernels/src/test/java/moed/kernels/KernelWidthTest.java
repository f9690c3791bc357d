package moed.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class KernelWidthTest {
    /**
     * In a fresh JVM (as `moed run` starts), choosing the width for a K-quant model must leave the kernels at the
     * chosen width: looking the model's formats up must not initialize the kernels' species first (one format's
     * constructor once did, and every model then ran at 256 bits whatever was chosen).
     */
    @Test
    void shouldRunTheKernelsAtTheWidthChosenForTheModel() throws Exception {
        List<String> out = SecondJvm.output(KernelWidthTest.class);
        String[] chosenAndUsed = out.get(0).split(" ");
        assertEquals(chosenAndUsed[0], chosenAndUsed[1], "bits chosen for a Q4_K model, then bits the kernels run at");
    }

    /** Chooses the width for a Q4_K model, then prints the chosen bits and the kernels' bits. */
    public static void main(String[] args) {
        KernelWidth.chooseFor(Map.of(GgmlType.Q4_K, 900L, GgmlType.IQ4_XS, 10L));
        System.out.println(System.getProperty(KernelWidth.PROPERTY) + " " + Dot.F.vectorBitSize());
    }

    @Test
    void shouldTake512BitsForModelsMostlyInFormatsThatGainThere() {
        assertEquals(512, KernelWidth.preferred(Map.of(GgmlType.Q4_K, 900L, GgmlType.Q6_K, 200L, GgmlType.Q8_0, 100L), 512));
        assertEquals(512, KernelWidth.preferred(Map.of(GgmlType.F16, 10L), 512));
        assertEquals(512, KernelWidth.preferred(Map.of(GgmlType.Q2_K, 900L, GgmlType.Q8_0, 100L), 512));
    }

    @Test
    void shouldLetTheAttentionDecideForGridFormatExperts() {
        // A dynamic quantization: IQ experts (as fast at either width) do not outvote the rest.
        assertEquals(512, KernelWidth.preferred(Map.of(GgmlType.IQ1_M, 900L, GgmlType.IQ1_S, 500L, GgmlType.Q4_K, 50L), 512));
        assertEquals(256, KernelWidth.preferred(Map.of(GgmlType.IQ1_S, 900L, GgmlType.Q5_0, 50L), 512));
        assertEquals(256, KernelWidth.preferred(Map.of(GgmlType.IQ1_M, 900L), 512));
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"IQ2_XXS", "IQ3_XXS", "IQ2_XS", "IQ3_S", "IQ2_S"})
    void shouldTake512BitsForGridFormatsWithPlaneKernelsWhereTheyRun(GgmlType t) {
        // Their plane kernels (GridPlanes) need AVX-512 VBMI's byte permutes; without them these are grid formats like
        // the others, as fast at either width.
        int expected = CpuFlags.has("avx512vbmi") ? 512 : 256;
        assertEquals(expected, KernelWidth.preferred(Map.of(t, 900L, GgmlType.Q5_0, 50L), 512));
        assertEquals(256, KernelWidth.preferred(Map.of(t, 900L), 256));
    }

    /** Q4_0's interleaved kernel is faster at 512 bits (sixteen rows a vector) than at 256; row by row it is not. */
    @Test
    void shouldTake512BitsForQ4_0WhenItIsInterleaved() {
        assertEquals(Interleaved.ENABLED ? 512 : 256, KernelWidth.preferred(Map.of(GgmlType.Q4_0, 900L, GgmlType.Q5_0, 200L), 512));
    }

    /** Q8_0 runs interleaved at 512 bits only, and that beats its per-row kernel at 256. */
    @Test
    void shouldTake512BitsForQ8WhenItIsInterleaved() {
        assertEquals(Interleaved.ENABLED ? 512 : 256,
                KernelWidth.preferred(Map.of(GgmlType.Q8_0, 900L, GgmlType.Q5_0, 200L), 512));
        assertEquals(256, KernelWidth.preferred(Map.of(GgmlType.Q8_0, 900L), 256));
    }

    @Test
    void shouldKeep256BitsForBlockFormatsAndForMachinesWithoutAvx512() {
        assertEquals(256, KernelWidth.preferred(Map.of(GgmlType.Q5_0, 900L, GgmlType.Q6_K, 200L), 512));
        assertEquals(256, KernelWidth.preferred(Map.of(GgmlType.Q5_0, 1L), 512));
        assertEquals(256, KernelWidth.preferred(Map.of(GgmlType.Q4_K, 900L), 256));
        assertEquals(256, KernelWidth.preferred(Map.of(), 512));
    }
}
