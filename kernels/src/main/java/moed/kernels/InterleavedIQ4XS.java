package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Decode's mat-vec over IQ4_XS rows in {@link Interleaved}'s layout, rows as vector lanes, as {@link InterleavedQ4K}
 * reads Q4_K: for every row the result is {@link IQ4_XSFormat#dot}'s, bit for bit.
 *
 * <p>The layout: a block_iq4_xs is 34 ints (d and scales_h, scales_l, then 32 of nibbles: int 2 + 4 ib + k holds bytes
 * 4k..4k+3 of sub-block ib, weights 32 ib + 4k.. in the low nibbles and 32 ib + 16 + 4k.. in the high ones), stored
 * int-major within a group's block: int i of row c at {@code (i * 16 + c) * 4}.
 *
 * <p>The non-linear levels are looked up by a permute ({@code selectFrom} a vector of the sixteen levels, in 16-bit
 * lanes or in bytes: {@link #BYTE_LOOKUP}), so each 16-bit half of a row's int holds a signed weight that faces a
 * broadcast pair of activation integers ({@link Activation#q8kPairs}). A level is at most 127 in size and so is a Q8_K
 * integer: two products fit a 16-bit half (32,258 < 2^15), so the halves are added into 32-bit lanes after every two
 * products, then times the sub-block's scale ls - 32 in 32-bit lanes.
 *
 * <p>Why: the per-row kernel widens each sub-block's bytes to 16-bit lanes and reduces across lanes every block; it
 * read IQ4_XS at about a quarter of the read bandwidth at both widths.
 */
final class InterleavedIQ4XS {
    private static final int GROUP = Interleaved.GROUP;
    /** Bytes of one group's block. */
    private static final int GROUP_BLOCK = GROUP * 136;
    private static final VectorSpecies<Float> F = Dot.F;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_MAX.withShape(F.vectorShape());
    private static final VectorSpecies<Short> S = ShortVector.SPECIES_MAX.withShape(F.vectorShape());
    private static final int VL = F.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_MAX.withShape(F.vectorShape());
    /**
     * Whether the levels are looked up as bytes (two lookups per 64 bytes of weights, then sign extension) rather than
     * as 16-bit lanes (four lookups): at 256 bits, where AVX2 has no 16-bit permute (measured in cache, one thread, the
     * JIT held to AVX2 by -XX:UseAVX=2: 8.4 -> 11.0 GFLOP/s; with AVX-512's 256-bit permutes the same 13.1 either way).
     * At 512 bits a 64-byte permute needs AVX-512 VBMI, a 32-lane 16-bit one only BW; both measured 23 GFLOP/s here.
     */
    private static final boolean BYTE_LOOKUP = !Int16Dot.WIDE;
    /** The sixteen levels repeated to fill a vector of S and of B (the lookups' tables). */
    private static final short[] LEVELS = new short[S.length()];
    private static final byte[] BYTE_LEVELS = new byte[B.length()];

    static {
        for (int i = 0; i < LEVELS.length; i++) {
            LEVELS[i] = IQ4_NLFormat.VALUES[i % 16];
        }
        for (int i = 0; i < BYTE_LEVELS.length; i++) {
            BYTE_LEVELS[i] = IQ4_NLFormat.VALUES[i % 16];
        }
    }

    private InterleavedIQ4XS() {
    }

    /**
     * Rows {@code group * GROUP ..} of interleaved m against one activation (prepared as
     * {@link Activation.Form#Q8_K_PAIRS}) into {@code out[o..o + GROUP)}.
     */
    static void dot(WeightMatrix m, int group, Activation a, float[] out, int o) {
        MemorySegment s = m.data();
        long groupOff = (long) group * GROUP * m.rowBytes();
        int blocks = m.cols() / 256;
        java.util.Arrays.fill(out, o, o + GROUP, 0f);
        for (int b = 0; b < blocks; b++) {
            for (int v = 0; v < GROUP / VL; v++) {
                block(s, groupOff + (long) b * GROUP_BLOCK + v * VL * 4L, a, b, out, o + v * VL);
            }
        }
    }

    /**
     * One block of VL rows (their ints at {@code base + i * 64}): {@link IQ4_XSFormat#dot}'s block term, lane by lane,
     * added to {@code total[o..o + VL)}.
     */
    private static void block(MemorySegment s, long base, Activation a, int b, float[] total, int o) {
        ShortVector levels = ShortVector.fromArray(S, LEVELS, 0);
        ByteVector byteLevels = ByteVector.fromArray(B, BYTE_LEVELS, 0);
        IntVector head = IntVector.fromMemorySegment(I, s, base, LE);
        IntVector high = head.lanewise(VectorOperators.LSHR, 16);
        IntVector low = IntVector.fromMemorySegment(I, s, base + 64, LE);
        int[] x = a.q8kPairs;
        IntVector sum = IntVector.zero(I);
        for (int ib = 0; ib < 8; ib++) {
            // Sub-block ib: four ints a row. Each 16-bit half of a row's int holds two bytes: weights k and k + 1 (or
            // k + 2 and k + 3) in the low nibbles, 16 more in the high ones. lo: the low nibbles' levels times their
            // activation pairs, two products a half; hi: the high nibbles'.
            IntVector dot = IntVector.zero(I);
            for (int k = 0; k < 4; k++) {
                IntVector g = IntVector.fromMemorySegment(I, s, base + (2 + 4 * ib + k) * 64L, LE);
                int p = (b * 256 + 32 * ib + 4 * k) / 2;
                ShortVector wk, wk1, wh, wh1; // levels of weights (k, k + 2), (k + 1, k + 3), then 16 more
                if (BYTE_LOOKUP) {
                    // Each byte's two nibbles looked up as bytes (the index wraps to the table's length, which repeats
                    // the sixteen levels, so the neighbouring nibble's bits above it do not matter), then sign-extended.
                    ShortVector l = g.reinterpretAsBytes().selectFrom(byteLevels).reinterpretAsShorts();
                    ShortVector h = g.lanewise(VectorOperators.LSHR, 4).reinterpretAsBytes().selectFrom(byteLevels).reinterpretAsShorts();
                    wk = l.lanewise(VectorOperators.LSHL, 8).lanewise(VectorOperators.ASHR, 8);
                    wk1 = l.lanewise(VectorOperators.ASHR, 8);
                    wh = h.lanewise(VectorOperators.LSHL, 8).lanewise(VectorOperators.ASHR, 8);
                    wh1 = h.lanewise(VectorOperators.ASHR, 8);
                } else {
                    // Each nibble looked up in 16-bit lanes (the index wraps as above).
                    ShortVector q = g.reinterpretAsShorts();
                    wk = q.selectFrom(levels);
                    wk1 = q.lanewise(VectorOperators.LSHR, 8).selectFrom(levels);
                    wh = q.lanewise(VectorOperators.LSHR, 4).selectFrom(levels);
                    wh1 = q.lanewise(VectorOperators.LSHR, 12).selectFrom(levels);
                }
                IntVector lo = wk.mul(IntVector.broadcast(I, x[p]).reinterpretAsShorts())
                        .add(wk1.mul(IntVector.broadcast(I, x[p + 1]).reinterpretAsShorts())).reinterpretAsInts();
                IntVector hi = wh.mul(IntVector.broadcast(I, x[p + 8]).reinterpretAsShorts())
                        .add(wh1.mul(IntVector.broadcast(I, x[p + 9]).reinterpretAsShorts())).reinterpretAsInts();
                dot = dot.add(lo.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                        .add(lo.lanewise(VectorOperators.ASHR, 16))
                        .add(hi.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16))
                        .add(hi.lanewise(VectorOperators.ASHR, 16));
            }
            // ls - 32: the low four bits from scales_l, the high two from scales_h.
            IntVector scale = low.lanewise(VectorOperators.LSHR, 4 * ib).and(0xF)
                    .or(high.lanewise(VectorOperators.LSHR, 2 * ib).and(3).lanewise(VectorOperators.LSHL, 4)).sub(32);
            sum = sum.add(dot.mul(scale));
        }
        FloatVector d = Interleaved.halvesToFloats(head);
        FloatVector term = d.mul(a.q8kScale[b]).mul((FloatVector) sum.convert(VectorOperators.I2F, 0));
        FloatVector.fromArray(F, total, o).add(term).intoArray(total, o);
    }
}
