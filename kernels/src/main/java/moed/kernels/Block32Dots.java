package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Fused dot products for the formats with 32-weight blocks (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, MXFP4), read
 * against Q8 activations as ggml does ({@code vec_dot_type} Q8_0/Q8_1): per block the products of the small
 * integer weights and the integer activations are summed lane-wise (exact in float), then scaled by the two
 * block scales into the accumulator. Formats with a per-block minimum (Q4_1, Q5_1) add {@code m * da * sum(aq)},
 * with the activation block's integer sum computed once per vector ({@link Activation#q8Sum}).
 *
 * <p>Callers ({@link Dot#row}) guarantee the Vector API is on with at least 8 float lanes.
 */
final class Block32Dots {
    private static final VectorSpecies<Float> F = Dot.F;
    private static final int L = Dot.L;
    private static final VectorSpecies<Byte> B = Dot.B;
    private static final VectorSpecies<Integer> IV = Dot.I.withShape(Dot.F.vectorShape());
    /** 16 bytes: one block's packed nibbles, the lookup formats' table width. */
    private static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Shift counts 0..31, so lane i of a Q5 block can pick bit i (or i+16) of its 32 high bits. */
    private static final int[] BIT_INDEX = new int[32];
    static {
        for (int i = 0; i < 32; i++) {
            BIT_INDEX[i] = i;
        }
    }

    private Block32Dots() {
    }

    private static float sum(FloatVector v) {
        return Dot.sum(v);
    }

    private static FloatVector q8Block(FloatVector w0, FloatVector w1, FloatVector w2, FloatVector w3, float[] q, int o) {
        FloatVector p = FloatVector.zero(F);
        p = w0.fma(FloatVector.fromArray(F, q, o), p);
        p = w1.fma(FloatVector.fromArray(F, q, o + L), p);
        if (L == 8) {
            p = w2.fma(FloatVector.fromArray(F, q, o + 2 * L), p);
            p = w3.fma(FloatVector.fromArray(F, q, o + 3 * L), p);
        }
        return p;
    }

    static void q8_0x4(MemorySegment s, long off, Activation a0, Activation a1, Activation a2, Activation a3,
                       int blocks, float[] out) {
        FloatVector c0 = FloatVector.zero(F);
        FloatVector c1 = c0;
        FloatVector c2 = c0;
        FloatVector c3 = c0;
        for (int b = 0; b < blocks; b++) {
            long bo = off + b * 34L;
            float dw = Bytes.f16(s, bo);
            FloatVector w0 = (FloatVector) ByteVector.fromMemorySegment(B, s, bo + 2, LE).convertShape(VectorOperators.B2F, F, 0);
            FloatVector w1 = (FloatVector) ByteVector.fromMemorySegment(B, s, bo + 2 + L, LE).convertShape(VectorOperators.B2F, F, 0);
            FloatVector w2 = w0;
            FloatVector w3 = w0;
            if (L == 8) {
                w2 = (FloatVector) ByteVector.fromMemorySegment(B, s, bo + 2 + 2 * L, LE).convertShape(VectorOperators.B2F, F, 0);
                w3 = (FloatVector) ByteVector.fromMemorySegment(B, s, bo + 2 + 3 * L, LE).convertShape(VectorOperators.B2F, F, 0);
            }
            int o = b * 32;
            c0 = q8Block(w0, w1, w2, w3, a0.q8, o).fma(FloatVector.broadcast(F, dw * a0.q8Scale[b]), c0);
            c1 = q8Block(w0, w1, w2, w3, a1.q8, o).fma(FloatVector.broadcast(F, dw * a1.q8Scale[b]), c1);
            c2 = q8Block(w0, w1, w2, w3, a2.q8, o).fma(FloatVector.broadcast(F, dw * a2.q8Scale[b]), c2);
            c3 = q8Block(w0, w1, w2, w3, a3.q8, o).fma(FloatVector.broadcast(F, dw * a3.q8Scale[b]), c3);
        }
        out[0] = sum(c0);
        out[1] = sum(c1);
        out[2] = sum(c2);
        out[3] = sum(c3);
    }

    // block_q8_0 { half d; int8 qs[32]; } against Q8_0 activations. Per block the integer products are summed
    // lane-wise (exact in float: |sum| < 2^24) and scaled by dx*dy into the accumulator, as ggml's AVX2 loop does.
    static float q8_0(MemorySegment s, long off, Activation a, int blocks) {
        float[] q = a.q8;
        float[] qd = a.q8Scale;
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < blocks; b++) {
            long bo = off + b * 34L;
            float d = Bytes.f16(s, bo) * qd[b];
            FloatVector p = FloatVector.zero(F);
            for (int k = 0; k < 32; k += L) {
                FloatVector w = (FloatVector) ByteVector.fromMemorySegment(B, s, bo + 2 + k, LE).convertShape(VectorOperators.B2F, F, 0);
                p = w.fma(FloatVector.fromArray(F, q, b * 32 + k), p);
            }
            acc = p.fma(FloatVector.broadcast(F, d), acc);
        }
        return sum(acc);
    }

    // block_q4_0 { half d; uint8 qs[16]; }: byte j holds weight j (low nibble) and j+16 (high), offset 8.
    static float q4_0(MemorySegment s, long off, Activation a, int blocks) {
        float[] q = a.q8;
        float[] qd = a.q8Scale;
        FloatVector acc = FloatVector.zero(F);
        VectorSpecies<Integer> iv = IV;
        for (int b = 0; b < blocks; b++) {
            long bo = off + b * 18L;
            float d = Bytes.f16(s, bo) * qd[b];
            FloatVector p = FloatVector.zero(F);
            for (int k = 0; k < 16; k += L) {
                IntVector bytes = (IntVector) ByteVector.fromMemorySegment(B, s, bo + 2 + k, LE).convertShape(VectorOperators.B2I, iv, 0);
                FloatVector lo = (FloatVector) bytes.and(0xF).sub(8).convertShape(VectorOperators.I2F, F, 0);
                FloatVector hi = (FloatVector) bytes.lanewise(VectorOperators.ASHR, 4).and(0xF).sub(8).convertShape(VectorOperators.I2F, F, 0);
                p = lo.fma(FloatVector.fromArray(F, q, b * 32 + k), p);
                p = hi.fma(FloatVector.fromArray(F, q, b * 32 + 16 + k), p);
            }
            acc = p.fma(FloatVector.broadcast(F, d), acc);
        }
        return sum(acc);
    }

    // block_q4_1 { half d; half m; uint8 qs[16]; }: w = d*q + m with q in 0..15, nibbles ordered as in Q4_0.
    static float q4_1(MemorySegment s, long off, Activation a, int blocks) {
        float[] q = a.q8;
        float[] qd = a.q8Scale;
        float[] qsum = a.q8Sum;
        FloatVector acc = FloatVector.zero(F);
        float mins = 0;
        for (int b = 0; b < blocks; b++) {
            long bo = off + b * 20L;
            float d = Bytes.f16(s, bo) * qd[b];
            mins += Bytes.f16(s, bo + 2) * qd[b] * qsum[b];
            FloatVector p = FloatVector.zero(F);
            for (int k = 0; k < 16; k += L) {
                IntVector bytes = (IntVector) ByteVector.fromMemorySegment(B, s, bo + 4 + k, LE).convertShape(VectorOperators.B2I, IV, 0);
                FloatVector lo = (FloatVector) bytes.and(0xF).convertShape(VectorOperators.I2F, F, 0);
                FloatVector hi = (FloatVector) bytes.lanewise(VectorOperators.ASHR, 4).and(0xF).convertShape(VectorOperators.I2F, F, 0);
                p = lo.fma(FloatVector.fromArray(F, q, b * 32 + k), p);
                p = hi.fma(FloatVector.fromArray(F, q, b * 32 + 16 + k), p);
            }
            acc = p.fma(FloatVector.broadcast(F, d), acc);
        }
        return sum(acc) + mins;
    }

    // block_q5_0 { half d; uint32 qh; uint8 qs[16]; }: bit j of qh is weight j's fifth bit; offset 16.
    static float q5_0(MemorySegment s, long off, Activation a, int blocks) {
        float[] q = a.q8;
        float[] qd = a.q8Scale;
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < blocks; b++) {
            long bo = off + b * 22L;
            float d = Bytes.f16(s, bo) * qd[b];
            IntVector qh = IntVector.broadcast(IV, s.get(Bytes.LE_INT, bo + 2));
            FloatVector p = FloatVector.zero(F);
            for (int k = 0; k < 16; k += L) {
                IntVector bytes = (IntVector) ByteVector.fromMemorySegment(B, s, bo + 6 + k, LE).convertShape(VectorOperators.B2I, IV, 0);
                IntVector h0 = fifthBits(qh, k);
                IntVector h1 = fifthBits(qh, k + 16);
                FloatVector lo = (FloatVector) bytes.and(0xF).or(h0).sub(16).convertShape(VectorOperators.I2F, F, 0);
                FloatVector hi = (FloatVector) bytes.lanewise(VectorOperators.ASHR, 4).and(0xF).or(h1).sub(16).convertShape(VectorOperators.I2F, F, 0);
                p = lo.fma(FloatVector.fromArray(F, q, b * 32 + k), p);
                p = hi.fma(FloatVector.fromArray(F, q, b * 32 + 16 + k), p);
            }
            acc = p.fma(FloatVector.broadcast(F, d), acc);
        }
        return sum(acc);
    }

    // block_q5_1 { half d; half m; uint32 qh; uint8 qs[16]; }: w = d*q + m with q in 0..31.
    static float q5_1(MemorySegment s, long off, Activation a, int blocks) {
        float[] q = a.q8;
        float[] qd = a.q8Scale;
        float[] qsum = a.q8Sum;
        FloatVector acc = FloatVector.zero(F);
        float mins = 0;
        for (int b = 0; b < blocks; b++) {
            long bo = off + b * 24L;
            float d = Bytes.f16(s, bo) * qd[b];
            mins += Bytes.f16(s, bo + 2) * qd[b] * qsum[b];
            IntVector qh = IntVector.broadcast(IV, s.get(Bytes.LE_INT, bo + 4));
            FloatVector p = FloatVector.zero(F);
            for (int k = 0; k < 16; k += L) {
                IntVector bytes = (IntVector) ByteVector.fromMemorySegment(B, s, bo + 8 + k, LE).convertShape(VectorOperators.B2I, IV, 0);
                FloatVector lo = (FloatVector) bytes.and(0xF).or(fifthBits(qh, k)).convertShape(VectorOperators.I2F, F, 0);
                FloatVector hi = (FloatVector) bytes.lanewise(VectorOperators.ASHR, 4).and(0xF).or(fifthBits(qh, k + 16))
                        .convertShape(VectorOperators.I2F, F, 0);
                p = lo.fma(FloatVector.fromArray(F, q, b * 32 + k), p);
                p = hi.fma(FloatVector.fromArray(F, q, b * 32 + 16 + k), p);
            }
            acc = p.fma(FloatVector.broadcast(F, d), acc);
        }
        return sum(acc) + mins;
    }

    /** Lane i: bit (first + i) of qh, moved to bit 4 (the value 16), for weights first..first+L-1. */
    private static IntVector fifthBits(IntVector qh, int first) {
        return qh.lanewise(VectorOperators.LSHR, IntVector.fromArray(IV, BIT_INDEX, first)).and(1).lanewise(VectorOperators.LSHL, 4);
    }

    // block_iq4_nl { half d; uint8 qs[16]; } and block_mxfp4 { uint8 e; uint8 qs[16]; }: each nibble indexes a
    // 16-entry table of small integers. One byte shuffle (selectFrom) looks up 16 weights at once.
    static float iq4_nl(MemorySegment s, long off, Activation a, int blocks) {
        float[] q = a.q8;
        float[] qd = a.q8Scale;
        FloatVector acc = FloatVector.zero(F);
        ByteVector table = ByteVector.fromArray(B16, Dequantize.IQ4NL_VALUES, 0);
        for (int b = 0; b < blocks; b++) {
            long bo = off + b * 18L;
            acc = lookupBlock(s, bo + 2, table, q, b * 32).fma(FloatVector.broadcast(F, Bytes.f16(s, bo) * qd[b]), acc);
        }
        return sum(acc);
    }

    static float mxfp4(MemorySegment s, long off, Activation a, int blocks) {
        float[] q = a.q8;
        float[] qd = a.q8Scale;
        FloatVector acc = FloatVector.zero(F);
        ByteVector table = ByteVector.fromArray(B16, Dequantize.MXFP4_VALUES, 0);
        for (int b = 0; b < blocks; b++) {
            long bo = off + b * 17L;
            float d = Dequantize.e8m0Half(Bytes.u8(s, bo)) * qd[b];
            acc = lookupBlock(s, bo + 1, table, q, b * 32).fma(FloatVector.broadcast(F, d), acc);
        }
        return sum(acc);
    }

    /** Sum over one block of table[nibble] * q: low nibbles are weights 0..15, high nibbles 16..31. */
    private static FloatVector lookupBlock(MemorySegment s, long qs, ByteVector table, float[] q, int o) {
        ByteVector packed = ByteVector.fromMemorySegment(B16, s, qs, LE);
        ByteVector lo = packed.and((byte) 0xF).selectFrom(table);
        ByteVector hi = packed.lanewise(VectorOperators.LSHR, 4).selectFrom(table);
        FloatVector p = FloatVector.zero(F);
        for (int part = 0; part < 16 / L; part++) {
            p = ((FloatVector) lo.convertShape(VectorOperators.B2F, F, part)).fma(FloatVector.fromArray(F, q, o + part * L), p);
            p = ((FloatVector) hi.convertShape(VectorOperators.B2F, F, part)).fma(FloatVector.fromArray(F, q, o + 16 + part * L), p);
        }
        return p;
    }
}
