package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * What the float formats (F32, F16, BF16) have in common: a "block" is one weight, stored by a plain conversion that
 * moed also writes, and their kernels use the full 512-bit width. Each subclass says its conversion both ways
 * ({@link #dequantizeBlock}, {@link #quantizeBlock}) and its dot product.
 */
abstract class FloatFormat extends BlockFormat {
    FloatFormat(GgmlType type, int bytes, Activation.Form activation) {
        super(type, 1, bytes, activation, WRITTEN);
    }

    @Override
    final boolean fasterAt512() {
        return true;
    }

    /** A Gaussian weight, stored by the format's own conversion (cold: tests and benchmarks). */
    @Override
    final void makeRandomBlockValid(MemorySegment s, long bo, SplittableRandom rnd) {
        quantizeBlock(new float[] {(float) rnd.nextGaussian()}, 0, s, bo);
    }
}
