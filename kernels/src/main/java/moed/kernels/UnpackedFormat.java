package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.util.function.Supplier;

/**
 * A 256-weight format dotted by decoding each block to small integers ({@link UnpackedBlock}) and one shared vector
 * loop against Q8_K activations: the IQ formats, whose weights are grid points looked up eight at a time (a table
 * lookup has no general vector form in the Vector API; Q2_K/Q3_K, plain bit fields, have direct kernels in
 * {@link KQuantDots}). A subclass says how one block decodes ({@link #unpack}); the loops over blocks and
 * activations are here. Four activations against one row ({@link #row4}) decode each block once. Where a format has
 * a plane kernel ({@link GridPlanes}: its grid fits byte permutes) and the processor runs it, a single token's dot
 * product takes that instead, with the same result.
 */
abstract class UnpackedFormat extends BlockFormat {
    /** The plane kernel, obtained when first computing (its class must not load while the width is chosen), or null. */
    private final Supplier<PlaneKernel> planeKernel;
    /** A block's float factor is d times this (what {@link #unpack} returns), for the plane kernel's integer dots. */
    private final float planeFactor;

    /** A format without a plane kernel. */
    UnpackedFormat(GgmlType type, int blockBytes) {
        this(type, blockBytes, null, 0f);
    }

    /** A format with a plane kernel, whose blocks' float factor is d times {@code planeFactor}. */
    UnpackedFormat(GgmlType type, int blockBytes, Supplier<PlaneKernel> planeKernel, float planeFactor) {
        super(type, 256, blockBytes, Activation.Form.Q8_K);
        this.planeKernel = planeKernel;
        this.planeFactor = planeFactor;
    }

    /**
     * Decodes the block at {@code bo} into {@code u} (its integers and per-16 scales) and returns the float factor of
     * its scales.
     */
    abstract float unpack(MemorySegment s, long bo, UnpackedBlock u);

    /**
     * Where the plane kernel runs, the blocks' integer dots by it (a remainder of blocks short of a step by the scalar
     * decode), each times the scalar decode's float factor: the same bits as the scalar decode.
     */
    @Override
    final float dot(MemorySegment s, long off, Activation a, int n) {
        PlaneKernel k = planeKernel == null ? null : planeKernel.get();
        short[] planes = k == null ? null : k.planes(a);
        if (planes == null) {
            return dotFrom(s, off, a, n, 0, 0f);
        }
        int steps = n / 256 / k.blocksPerStep;
        int blocks = steps * k.blocksPerStep;
        UnpackedBlock u = UnpackedBlock.get();
        byte[] scratch = u.scratch(steps * k.scratchPerStep);
        int[] dots = u.dots(blocks);
        k.firstPass(s, off, steps, scratch);
        k.dots(s, off, planes, steps, scratch, dots);
        return fromIntegerDots(s, off, a, n, dots, blocks, planeFactor);
    }

    /**
     * A dot product from the integer dots of its first {@code count} blocks (a plane kernel's), the rest by the
     * scalar decode. Each block's share is the scalar decode's float expression, (d * factor) * the
     * activation's scale * the integer dot, in block order, where d * factor is what {@link #unpack} returns: so the
     * result is the scalar decode's, bit for bit.
     */
    private float fromIntegerDots(MemorySegment s, long off, Activation a, int n, int[] dots, int count, float factor) {
        float total = 0;
        for (int b = 0; b < count; b++) {
            total += Float.float16ToFloat(s.get(Bytes.LE_SHORT, off + (long) b * blockBytes)) * factor * a.q8kScale[b] * dots[b];
        }
        return dotFrom(s, off, a, n, count, total);
    }

    /** The rest of a dot product: blocks {@code first..n/256} added in order to {@code total}, the sum of the earlier ones. */
    private float dotFrom(MemorySegment s, long off, Activation a, int n, int first, float total) {
        if (first >= n / 256) {
            return total; // nothing left (and no thread-local lookup for it)
        }
        UnpackedBlock u = UnpackedBlock.get();
        for (int b = first; b < n / 256; b++) {
            float f = unpack(s, off + (long) b * blockBytes, u);
            total += block(u, f, a, b);
        }
        return total;
    }

    /** One block's share of a dot product: factor * da * (the integer dot). */
    private static float block(UnpackedBlock u, float f, Activation a, int b) {
        return f * a.q8kScale[b] * u.dot(a.q8k, 256 * b);
    }

    /**
     * One row against {@code count} tokens' activations into {@code sums[0..count)}, each block decoded once for all
     * of them ({@link UnpackedGemm}); per token the same operations in the same order as {@link #dot}.
     */
    final void rows(MemorySegment s, long off, int n, Activation[] tokens, int count, float[] sums) {
        UnpackedBlock u = UnpackedBlock.get();
        java.util.Arrays.fill(sums, 0, count, 0f);
        for (int b = 0; b < n / 256; b++) {
            float f = unpack(s, off + (long) b * blockBytes, u);
            for (int t = 0; t < count; t++) {
                sums[t] += block(u, f, tokens[t], b);
            }
        }
    }

    @Override
    final void row4(MemorySegment s, long off, int n, Activation a0, Activation a1, Activation a2, Activation a3, float[] out) {
        if (!Dot.VECTOR) {
            super.row4(s, off, n, a0, a1, a2, a3, out);
            return;
        }
        UnpackedBlock u = UnpackedBlock.get();
        float t0 = 0;
        float t1 = 0;
        float t2 = 0;
        float t3 = 0;
        for (int b = 0; b < n / 256; b++) {
            float f = unpack(s, off + (long) b * blockBytes, u);
            t0 += block(u, f, a0, b);
            t1 += block(u, f, a1, b);
            t2 += block(u, f, a2, b);
            t3 += block(u, f, a3, b);
        }
        out[0] = t0;
        out[1] = t1;
        out[2] = t2;
        out[3] = t3;
    }

    @Override
    final boolean hasTiled() {
        return true;
    }

    /** The plane kernel's activation form where {@link GridPlanes} run (decided when computing, see BlockFormat). */
    @Override
    final Activation.Form activation() {
        return planeKernel != null && GridPlanes.USABLE ? planeKernel.get().form : Activation.Form.Q8_K;
    }

    /**
     * The scalar decode measured the same at 256 and 512 bits; a plane kernel runs at 512 bits only, where the
     * processor has its byte permutes (read from the processor, not from {@link GridPlanes}: the width is not chosen
     * yet when this is asked).
     */
    @Override
    final boolean widthNeutral() {
        return !fasterAt512();
    }

    @Override
    final boolean fasterAt512() {
        return planeKernel != null && CpuFlags.wideBytePermutes();
    }
}
