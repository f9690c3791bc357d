package moed.tools.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import moed.kernels.GgmlType;
import org.junit.jupiter.api.Test;

/** {@code moed bench kernels --types}: names, the 'low-bit' and 'all' lists, and a clear error for an unknown one. */
class KernelBenchTest {
    @Test
    void shouldExpandTheNamedListsInOrderOnce() {
        assertEquals(List.of(GgmlType.Q8_0, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.IQ1_S, GgmlType.IQ1_M, GgmlType.IQ2_XXS,
                        GgmlType.IQ2_XS, GgmlType.IQ2_S, GgmlType.IQ3_XXS, GgmlType.IQ3_S, GgmlType.IQ4_XS),
                KernelBench.formats(List.of("Q8_0", " low-bit", "Q2_K")));
        List<GgmlType> all = KernelBench.formats(List.of("ALL"));
        assertEquals(21, all.size());
        assertEquals(GgmlType.F32, all.get(0));
        assertEquals(GgmlType.IQ4_XS, all.get(all.size() - 1));
    }

    @Test
    void shouldNameAnUnknownFormat() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> KernelBench.formats(List.of("Q9_9")));
        assertTrue(e.getMessage().contains("'Q9_9'"), e.getMessage());
    }
}
