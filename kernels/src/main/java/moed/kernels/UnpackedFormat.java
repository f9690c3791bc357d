package moed.kernels;

import java.lang.foreign.MemorySegment;

/**
 * A 256-weight format dotted by decoding each block to small integers ({@link UnpackedBlock}) and one shared vector
 * loop against Q8_K activations: the IQ formats, whose weights are grid points looked up eight at a time, and
 * Q2_K/Q3_K, whose 2-3 bit fields are cut apart with byte vectors. A subclass says how one block decodes
 * ({@link #unpack}); the loops over blocks and activations are here. Four activations against one row
 * ({@link #row4}) decode each block once.
 */
abstract class UnpackedFormat extends BlockFormat {
    UnpackedFormat(GgmlType type, int blockBytes) {
        super(type, 256, blockBytes, Activation.Form.Q8_K);
    }

    /**
     * Decodes the block at {@code bo} into {@code u} (its integers, per-16 scales and, for formats with minimums,
     * per-16 minimums and {@link UnpackedBlock#minFactor}) and returns the float factor of its scales.
     */
    abstract float unpack(MemorySegment s, long bo, UnpackedBlock u);

    /**
     * Block b is dotted after block b + 1 has been decoded, into the other of two buffers: the decoded bytes are
     * written eight at a time and read 16 or 32 at a time, and a wide load right after the narrow stores that
     * wrote it cannot take its bytes from the store buffer (store-to-load forwarding fails and the load waits for
     * the stores to reach the cache). Decoding the next block in between gives the stores time to land.
     */
    @Override
    final float dot(MemorySegment s, long off, Activation a, int n) {
        UnpackedBlock u = UnpackedBlock.get();
        UnpackedBlock v = u.other;
        u.minFactor = 0; // the blocks may last have served a format with minimums
        v.minFactor = 0;
        int blocks = n / 256;
        float total = 0;
        float f = unpack(s, off, u);
        for (int b = 0; b < blocks; b++) {
            float next = b + 1 < blocks ? unpack(s, off + (long) (b + 1) * blockBytes, v) : 0;
            total += block(u, f, a, b);
            UnpackedBlock t = u;
            u = v;
            v = t;
            f = next;
        }
        return total;
    }

    /** One block's share of a dot product: factor * da * sum - minFactor * da * minimums. */
    private static float block(UnpackedBlock u, float f, Activation a, int b) {
        float da = a.q8kScale[b];
        float sum = f * da * u.dot(a.q8k, 256 * b);
        return u.minFactor == 0 ? sum : sum - u.minFactor * da * u.minDot(a.q8kSum16, 16 * b);
    }

    @Override
    final void row4(MemorySegment s, long off, int n, Activation a0, Activation a1, Activation a2, Activation a3, float[] out) {
        if (!Dot.VECTOR) {
            super.row4(s, off, n, a0, a1, a2, a3, out);
            return;
        }
        UnpackedBlock u = UnpackedBlock.get();
        u.minFactor = 0;
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

    @Override
    boolean fasterAt512() {
        return true;
    }
}
