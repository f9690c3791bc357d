package moed.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.reflect.Modifier;
import java.util.Arrays;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every ggml type either has a {@link BlockFormat} whose layout agrees with ggml's (as {@link GgmlType} records it) and
 * whose activation form fits its blocks, or is refused by every entry point with the error that names the types moed
 * computes.
 */
class BlockFormatTest {

    @ParameterizedTest
    @EnumSource(GgmlType.class)
    void shouldHaveAConsistentFormatOrBeRefusedClearly(GgmlType t) {
        BlockFormat f = BlockFormat.find(t);
        if (f != null) {
            assertEquals(t, f.type, "format registered for " + t);
            assertEquals(t.blockSize, f.blockSize, t + " weights per block");
            assertEquals(t.blockBytes, f.blockBytes, t + " bytes per block");
            assertTrue(Modifier.isFinal(f.getClass().getModifiers()), f.getClass() + " must be final (devirtualised per row)");
            assertTrue(t.isComputable());
            assertEquals(f, t.format());
            // A quantized activation block (one scale) must cover whole weight blocks; float forms have no blocks.
            int activationBlock = switch (f.activation()) {
                case Q8_0, Q8_0_PAIRS, Q4_0_PAIRS -> 32;
                case Q8_K, Q8_K_NIBBLES, Q8_K_PLANES8, Q8_K_PLANES4, Q8_K_PAIRS -> 256;
                case FLOAT, F16 -> f.blockSize;
            };
            assertEquals(0, activationBlock % f.blockSize, t + " blocks must tile its " + f.activation() + " activation blocks");
            assertEquals(f.canQuantize(), Quantize.supports(t));
            return;
        }
        assertFalse(t.isComputable());
        String expected = "tensor type " + t + " cannot be computed by moed yet; supported: " + Dequantize.supportedNames();
        int n = 256 * Math.max(1, 32 / t.blockSize);
        MemorySegment data = Arena.ofAuto().allocate(t.bytesFor(n));
        WeightMatrix m = WeightMatrix.of(t, data, 1, n);
        Activation a = new Activation(n).set(new float[n], 0, n);
        assertEquals(expected, assertThrows(Dequantize.UnsupportedTypeException.class, () -> a.prepareFor(t)).getMessage());
        assertEquals(expected, assertThrows(Dequantize.UnsupportedTypeException.class, () -> Dot.row(m, 0, a)).getMessage());
        assertEquals(expected, assertThrows(Dequantize.UnsupportedTypeException.class,
                () -> Dequantize.row(t, data, 0, new float[n], 0, n)).getMessage());
        assertFalse(Dot.hasTiled(t));
        IllegalArgumentException write = assertThrows(IllegalArgumentException.class,
                () -> Quantize.row(t, new float[n], 0, n, data, 0));
        assertEquals("moed cannot write " + t + " tensors; it writes F32, F16, Q4_0, Q8_0, Q4_K, Q6_K, BF16", write.getMessage());
    }

    @ParameterizedTest
    @EnumSource(GgmlType.class)
    void shouldNameEveryComputableTypeAsSupported(GgmlType t) {
        boolean named = Arrays.asList(Dequantize.supportedNames().split(", ")).contains(t.name());
        assertEquals(t.isComputable(), named, t + " in " + Dequantize.supportedNames());
        if (named) {
            assertNotNull(BlockFormat.find(t));
        }
    }
}
