package moed.kernels;

import java.lang.foreign.MemorySegment;

/**
 * A grid format's plane kernel ({@link GridPlanes}): per row a first pass over its blocks into a scratch array
 * (signs, scales: what would not fit the second pass's inlining budget), then each block's exact integer dot. The
 * format ({@link UnpackedFormat#dot}) applies the float steps. One instance per format, stateless.
 */
abstract class PlaneKernel {
    /** The activation it reads: {@link Activation.Form#Q8_K_PLANES8} or {@link Activation.Form#Q8_K_PLANES4}. */
    final Activation.Form form;
    /** Blocks a step covers (two where a step takes 64 points of eight weights); a row's remainder is decoded. */
    final int blocksPerStep;
    /** Scratch bytes the first pass writes per step. */
    final int scratchPerStep;

    PlaneKernel(Activation.Form form, int blocksPerStep, int scratchPerStep) {
        this.form = form;
        this.blocksPerStep = blocksPerStep;
        this.scratchPerStep = scratchPerStep;
    }

    /** The first pass over {@code steps} steps of the row at {@code off} into {@code scratch}. */
    abstract void firstPass(MemorySegment s, long off, int steps, byte[] scratch);

    /** The integer dots of the row's first {@code steps * blocksPerStep} blocks into {@code dots}. */
    abstract void dots(MemorySegment s, long off, short[] planes, int steps, byte[] scratch, int[] dots);

    /** The activation's integers in this kernel's plane order (null where plane kernels do not run). */
    final short[] planes(Activation a) {
        return form == Activation.Form.Q8_K_PLANES8 ? a.q8kPlanes8 : a.q8kPlanes4;
    }
}
