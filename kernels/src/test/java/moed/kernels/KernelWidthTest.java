package moed.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import org.junit.jupiter.api.Test;

class KernelWidthTest {
    @Test
    void shouldTake512BitsForModelsMostlyInFormatsThatGainThere() {
        assertEquals(512, KernelWidth.preferred(Map.of(GgmlType.Q4_K, 900L, GgmlType.Q6_K, 200L, GgmlType.Q8_0, 100L), 512));
        assertEquals(512, KernelWidth.preferred(Map.of(GgmlType.F16, 10L), 512));
        assertEquals(512, KernelWidth.preferred(Map.of(GgmlType.Q2_K, 900L, GgmlType.Q8_0, 100L), 512));
    }

    @Test
    void shouldLetTheAttentionDecideForGridFormatExperts() {
        // A dynamic quantization: IQ experts (as fast at either width) do not outvote the rest.
        assertEquals(512, KernelWidth.preferred(Map.of(GgmlType.IQ2_XXS, 900L, GgmlType.IQ1_S, 500L, GgmlType.Q4_K, 50L), 512));
        assertEquals(256, KernelWidth.preferred(Map.of(GgmlType.IQ2_XXS, 900L, GgmlType.Q8_0, 50L), 512));
        assertEquals(256, KernelWidth.preferred(Map.of(GgmlType.IQ3_S, 900L), 512));
    }

    @Test
    void shouldKeep256BitsForBlockFormatsAndForMachinesWithoutAvx512() {
        assertEquals(256, KernelWidth.preferred(Map.of(GgmlType.Q8_0, 900L, GgmlType.Q6_K, 200L), 512));
        assertEquals(256, KernelWidth.preferred(Map.of(GgmlType.Q4_0, 1L), 512));
        assertEquals(256, KernelWidth.preferred(Map.of(GgmlType.Q4_K, 900L), 256));
        assertEquals(256, KernelWidth.preferred(Map.of(), 512));
    }
}
