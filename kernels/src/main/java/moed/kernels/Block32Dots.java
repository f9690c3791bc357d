package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Fused dot products for the formats with 32-weight blocks (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, MXFP4), read
 * against Q8 activations as ggml does ({@code vec_dot_type} Q8_0/Q8_1). Each block's 32 weights become two
 * vectors of 16-bit integers whose integer dot with the activation ({@link Int16Dot}) is converted to float once
 * and scaled by the two block scales into the accumulator.
 *
 * <p>Formats with a per-block minimum (Q4_1, Q5_1) add {@code m * da * sum(aq)}, with the activation block's
 * integer sum computed once per vector ({@link Activation#q8Sum}).
 */
final class Block32Dots {
    private static final VectorSpecies<Short> S = Int16Dot.S;
    private static final VectorSpecies<Byte> B16 = Int16Dot.B16;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /**
     * Lane i < 16 holds 1 << i: ANDed with a broadcast 16-bit mask, lane i keeps its own bit. Lanes above (512 bits)
     * hold 0, so the weights there stay zero (see {@link Int16Dot#widen}).
     */
    private static final short[] LANE_BIT = new short[Int16Dot.SL];
    /** A format's offset in the 16 weight lanes and 0 above, so that lanes above 16 stay zero at 512 bits. */
    private static final short[] OFFSET_8 = new short[Int16Dot.SL];
    private static final short[] OFFSET_16 = new short[Int16Dot.SL];
    /** At 512 bits: lane i takes lane i + 8 and lane i + 8 takes lane i. */
    private static final int[] SWAP_HALVES = new int[Int16Dot.I.length()];
    static {
        for (int i = 0; i < SWAP_HALVES.length; i++) {
            SWAP_HALVES[i] = (i + 8) % SWAP_HALVES.length;
        }
        for (int i = 0; i < 16; i++) {
            LANE_BIT[i] = (short) (1 << i);
            OFFSET_8[i] = 8;
            OFFSET_16[i] = 16;
        }
    }

    private Block32Dots() {
    }

    // block_q8_0 { half d; int8 qs[32]; }
    static float q8_0(MemorySegment s, long off, Activation a, int blocks) {
        short[] q = a.q8s;
        float[] qd = a.q8Scale;
        FloatVector acc = FloatVector.zero(Int16Dot.F);
        if (Int16Dot.WIDE) {
            // One 32-lane vector per block: int lane j sums products 2j and 2j+1, so lane i < 8 plus lane 8 + i is
            // the block's lane i of dot32 (the same integer, so the same result); lanes 8-15 then carry a copy.
            VectorShuffle<Integer> halves = VectorShuffle.fromArray(Int16Dot.I, SWAP_HALVES, 0);
            for (int b = 0; b < blocks; b++) {
                long bo = off + b * 34L;
                IntVector p = Int16Dot.pairs(Int16Dot.widenAll(s, bo + 2).mul(ShortVector.fromArray(S, q, b * 32)));
                acc = Int16Dot.scaled(p.add(p.rearrange(halves)), Float.float16ToFloat(s.get(Bytes.LE_SHORT, bo)) * qd[b], acc);
            }
            return Dot.sum8(acc);
        }
        for (int b = 0; b < blocks; b++) {
            long bo = off + b * 34L;
            acc = Int16Dot.scaled(Int16Dot.dot32(Int16Dot.widen(s, bo + 2), Int16Dot.widen(s, bo + 18), q, b * 32), Float.float16ToFloat(s.get(Bytes.LE_SHORT, bo)) * qd[b], acc);
        }
        return Dot.sum8(acc);
    }

    /**
     * Two Q8_0 rows (at byte offsets off0 and off1) against one activation, each exactly as {@link #q8_0}: the same
     * operations in the same order per row. Why: each row's blocks are one chain of FMAs into its accumulator (four
     * cycles of latency a block), and two rows give the core two independent chains and share the activation loads
     * (one thread, rows in cache: 1.89 against 2.05 ns a block at 256 bits).
     */
    static void q8_0Pair(MemorySegment s, long off0, long off1, Activation a, int blocks, float[] out) {
        short[] q = a.q8s;
        float[] qd = a.q8Scale;
        FloatVector acc0 = FloatVector.zero(Int16Dot.F);
        FloatVector acc1 = acc0;
        if (Int16Dot.WIDE) {
            VectorShuffle<Integer> halves = VectorShuffle.fromArray(Int16Dot.I, SWAP_HALVES, 0);
            for (int b = 0; b < blocks; b++) {
                long b0 = off0 + b * 34L;
                long b1 = off1 + b * 34L;
                ShortVector x = ShortVector.fromArray(S, q, b * 32);
                IntVector p0 = Int16Dot.pairs(Int16Dot.widenAll(s, b0 + 2).mul(x));
                IntVector p1 = Int16Dot.pairs(Int16Dot.widenAll(s, b1 + 2).mul(x));
                acc0 = Int16Dot.scaled(p0.add(p0.rearrange(halves)), Float.float16ToFloat(s.get(Bytes.LE_SHORT, b0)) * qd[b], acc0);
                acc1 = Int16Dot.scaled(p1.add(p1.rearrange(halves)), Float.float16ToFloat(s.get(Bytes.LE_SHORT, b1)) * qd[b], acc1);
            }
        } else {
            for (int b = 0; b < blocks; b++) {
                long b0 = off0 + b * 34L;
                long b1 = off1 + b * 34L;
                ShortVector x0 = ShortVector.fromArray(S, q, b * 32);
                ShortVector x1 = ShortVector.fromArray(S, q, b * 32 + 16);
                IntVector p0 = Int16Dot.pairs(Int16Dot.widen(s, b0 + 2).mul(x0).add(Int16Dot.widen(s, b0 + 18).mul(x1)));
                IntVector p1 = Int16Dot.pairs(Int16Dot.widen(s, b1 + 2).mul(x0).add(Int16Dot.widen(s, b1 + 18).mul(x1)));
                acc0 = Int16Dot.scaled(p0, Float.float16ToFloat(s.get(Bytes.LE_SHORT, b0)) * qd[b], acc0);
                acc1 = Int16Dot.scaled(p1, Float.float16ToFloat(s.get(Bytes.LE_SHORT, b1)) * qd[b], acc1);
            }
        }
        out[0] = Dot.sum8(acc0);
        out[1] = Dot.sum8(acc1);
    }

    // block_q4_0 { half d; uint8 qs[16]; }: byte j holds weight j (low nibble) and j+16 (high), offset 8.
    static float q4_0(MemorySegment s, long off, Activation a, int blocks) {
        short[] q = a.q8s;
        float[] qd = a.q8Scale;
        ShortVector offset = ShortVector.fromArray(S, OFFSET_8, 0);
        FloatVector acc = FloatVector.zero(Int16Dot.F);
        for (int b = 0; b < blocks; b++) {
            long bo = off + b * 18L;
            ShortVector packed = Int16Dot.widen(s, bo + 2);
            ShortVector lo = packed.and((short) 0xF).sub(offset);
            ShortVector hi = packed.lanewise(VectorOperators.ASHR, 4).and((short) 0xF).sub(offset);
            acc = Int16Dot.scaled(Int16Dot.dot32(lo, hi, q, b * 32), Float.float16ToFloat(s.get(Bytes.LE_SHORT, bo)) * qd[b], acc);
        }
        return Dot.sum8(acc);
    }

    // block_q4_1 { half d; half m; uint8 qs[16]; }: w = d*q + m with q in 0..15, nibbles ordered as in Q4_0.
    static float q4_1(MemorySegment s, long off, Activation a, int blocks) {
        short[] q = a.q8s;
        float[] qd = a.q8Scale;
        float[] qsum = a.q8Sum;
        FloatVector acc = FloatVector.zero(Int16Dot.F);
        float mins = 0;
        for (int b = 0; b < blocks; b++) {
            long bo = off + b * 20L;
            mins += Float.float16ToFloat(s.get(Bytes.LE_SHORT, bo + 2)) * qd[b] * qsum[b];
            ShortVector packed = Int16Dot.widen(s, bo + 4);
            ShortVector lo = packed.and((short) 0xF);
            ShortVector hi = packed.lanewise(VectorOperators.ASHR, 4).and((short) 0xF);
            acc = Int16Dot.scaled(Int16Dot.dot32(lo, hi, q, b * 32), Float.float16ToFloat(s.get(Bytes.LE_SHORT, bo)) * qd[b], acc);
        }
        return Dot.sum8(acc) + mins;
    }

    // block_q5_0 { half d; uint32 qh; uint8 qs[16]; }: bit j of qh is weight j's fifth bit; offset 16.
    static float q5_0(MemorySegment s, long off, Activation a, int blocks) {
        short[] q = a.q8s;
        float[] qd = a.q8Scale;
        ShortVector laneBit = ShortVector.fromArray(S, LANE_BIT, 0);
        ShortVector offset = ShortVector.fromArray(S, OFFSET_16, 0);
        FloatVector acc = FloatVector.zero(Int16Dot.F);
        for (int b = 0; b < blocks; b++) {
            long bo = off + b * 22L;
            int qh = s.get(Bytes.LE_INT, bo + 2);
            ShortVector packed = Int16Dot.widen(s, bo + 6);
            ShortVector lo = packed.and((short) 0xF).or(fifthBits(qh, laneBit)).sub(offset);
            ShortVector hi = packed.lanewise(VectorOperators.ASHR, 4).and((short) 0xF).or(fifthBits(qh >>> 16, laneBit)).sub(offset);
            acc = Int16Dot.scaled(Int16Dot.dot32(lo, hi, q, b * 32), Float.float16ToFloat(s.get(Bytes.LE_SHORT, bo)) * qd[b], acc);
        }
        return Dot.sum8(acc);
    }

    // block_q5_1 { half d; half m; uint32 qh; uint8 qs[16]; }: w = d*q + m with q in 0..31.
    static float q5_1(MemorySegment s, long off, Activation a, int blocks) {
        short[] q = a.q8s;
        float[] qd = a.q8Scale;
        float[] qsum = a.q8Sum;
        ShortVector laneBit = ShortVector.fromArray(S, LANE_BIT, 0);
        FloatVector acc = FloatVector.zero(Int16Dot.F);
        float mins = 0;
        for (int b = 0; b < blocks; b++) {
            long bo = off + b * 24L;
            mins += Float.float16ToFloat(s.get(Bytes.LE_SHORT, bo + 2)) * qd[b] * qsum[b];
            int qh = s.get(Bytes.LE_INT, bo + 4);
            ShortVector packed = Int16Dot.widen(s, bo + 8);
            ShortVector lo = packed.and((short) 0xF).or(fifthBits(qh, laneBit));
            ShortVector hi = packed.lanewise(VectorOperators.ASHR, 4).and((short) 0xF).or(fifthBits(qh >>> 16, laneBit));
            acc = Int16Dot.scaled(Int16Dot.dot32(lo, hi, q, b * 32), Float.float16ToFloat(s.get(Bytes.LE_SHORT, bo)) * qd[b], acc);
        }
        return Dot.sum8(acc) + mins;
    }

    /**
     * Lane i: 16 if bit i of the low 16 bits of qh is set, else 0. A compare against each lane's own bit: AVX2 has
     * no per-lane shift for 16-bit lanes, so shifting qh by the lane index would not compile to one instruction.
     */
    private static ShortVector fifthBits(int qh, ShortVector laneBit) {
        return ShortVector.zero(S).blend((short) 16, ShortVector.broadcast(S, (short) qh).and(laneBit).compare(VectorOperators.NE, (short) 0));
    }

    // block_iq4_nl { half d; uint8 qs[16]; } and block_mxfp4 { uint8 e; uint8 qs[16]; }: each nibble indexes a
    // 16-entry table of small integers. One byte shuffle (selectFrom) looks up 16 weights at once.
    static float iq4_nl(MemorySegment s, long off, Activation a, int blocks) {
        short[] q = a.q8s;
        float[] qd = a.q8Scale;
        ByteVector table = ByteVector.fromArray(B16, IQ4_NLFormat.VALUES, 0);
        FloatVector acc = FloatVector.zero(Int16Dot.F);
        for (int b = 0; b < blocks; b++) {
            long bo = off + b * 18L;
            acc = Int16Dot.scaled(lookupBlock(s, bo + 2, table, q, b * 32), Float.float16ToFloat(s.get(Bytes.LE_SHORT, bo)) * qd[b], acc);
        }
        return Dot.sum8(acc);
    }

    static float mxfp4(MemorySegment s, long off, Activation a, int blocks) {
        short[] q = a.q8s;
        float[] qd = a.q8Scale;
        ByteVector table = ByteVector.fromArray(B16, MXFP4Format.VALUES, 0);
        FloatVector acc = FloatVector.zero(Int16Dot.F);
        for (int b = 0; b < blocks; b++) {
            long bo = off + b * 17L;
            float d = MXFP4Format.e8m0Half(Bytes.u8(s, bo)) * qd[b];
            acc = Int16Dot.scaled(lookupBlock(s, bo + 1, table, q, b * 32), d, acc);
        }
        return Dot.sum8(acc);
    }

    /** One lookup block's integer dot: low nibbles are weights 0..15, high nibbles 16..31. */
    private static IntVector lookupBlock(MemorySegment s, long qs, ByteVector table, short[] q, int o) {
        ByteVector packed = ByteVector.fromMemorySegment(B16, s, qs, LE);
        ShortVector lo = (ShortVector) packed.and((byte) 0xF).selectFrom(table).convertShape(VectorOperators.B2S, S, 0);
        ShortVector hi = (ShortVector) packed.lanewise(VectorOperators.LSHR, 4).selectFrom(table).convertShape(VectorOperators.B2S, S, 0);
        return Int16Dot.dot32(lo, hi, q, o);
    }
}
