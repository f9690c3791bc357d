package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Decode's mat-vec over Q4_K rows in {@link Interleaved}'s layout, rows as vector lanes: a pair of activation integers is broadcast against two weights of every row at once, so the inner
 * loop is shifts, masks, 16-bit multiplies and adds, with no widening of bytes and no per-row reduction until the
 * sub-block ends. For every row the result is {@link KQuantDots#q4_k}'s, bit for bit.
 *
 * <p>Why: the per-row kernel multiplies in 16-bit lanes and reduces every super-block across lanes; measured, it
 * reads Q4_K at a third of memory speed even from cache, so a Q4_K model's decode was bound by the kernel, not by
 * memory. {@link KQuantRowGemm} already had rows as lanes for prefill, but paid a scalar transposition of every
 * super-block per call; stored transposed, neither pays it.
 *
 * <p>The layout: within a group, super-block b's 144 bytes of each row are 36 ints, stored int-major: int i of row c
 * at {@code b * 2304 + (i * 16 + c) * 4}. A block_q4_K as ints: d and dmin, then three of scales and minimums, then 32 of nibbles (int 4 + i holds quantized
 * bytes 4i..4i+3: chunk j = i / 8 of 32 bytes, byte l of which has weight 64j + l in its low nibble and 64j + 32 + l
 * in its high one).
 *
 * <p>Why exact: a 16-bit half sums 16 products of at most 15 * 127 (30,480 < 2^15); a row's two halves added as ints
 * and times the sub-block's scale give the per-row kernel's integers, and its float steps follow lane for lane.
 *
 * <p>Measured (one matrix of 256 MiB, two threads, this session's Xeon): 4.4-5.7 GB/s row by row against 7.3-9.1
 * interleaved at 512 bits, 3.5-4.2 against 5.9-6.4 at 256 bits; with float FMAs in place of the 16-bit products
 * 6.7 and 4.9.
 */
final class InterleavedQ4K {
    private static final int GROUP = Interleaved.GROUP;
    /** Bytes of one group's super-block. */
    private static final int GROUP_BLOCK = GROUP * 144;
    private static final VectorSpecies<Float> F = Dot.F;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_MAX.withShape(F.vectorShape());
    private static final VectorSpecies<Short> S = ShortVector.SPECIES_MAX.withShape(F.vectorShape());
    private static final int VL = F.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Per thread: a super-block's d and dmin of VL rows as floats. */
    private static final ThreadLocal<float[]> HALVES = ThreadLocal.withInitial(() -> new float[2 * GROUP]);
    /** Per thread: four tokens' integer sums of a super-block of VL rows ({@link #dot4}). */
    private static final ThreadLocal<int[]> SUMS4 = ThreadLocal.withInitial(() -> new int[4 * VL]);
    /** Per thread: a super-block's token-independent floats ({@link #floats}, 10 * VL). */
    static final ThreadLocal<float[]> FLOATS = ThreadLocal.withInitial(() -> new float[10 * VL]);

    private InterleavedQ4K() {
    }

    /**
     * Rows {@code group * GROUP ..} of interleaved m against one activation (prepared as
     * {@link Activation.Form#Q8_K_PAIRS}) into {@code out[o..o + GROUP)}.
     */
    static void dot(WeightMatrix m, int group, Activation a, float[] out, int o) {
        MemorySegment s = m.data();
        long groupOff = (long) group * GROUP * m.rowBytes();
        int nsb = m.cols() / 256;
        float[] halves = HALVES.get();
        java.util.Arrays.fill(out, o, o + GROUP, 0f);
        for (int b = 0; b < nsb; b++) {
            for (int v = 0; v < GROUP / VL; v++) {
                superBlock(s, groupOff + (long) b * GROUP_BLOCK + v * VL * 4L, a, b, out, o + v * VL, halves);
            }
        }
    }

    /** {@link #dot} for two groups, their super-blocks alternating (see {@link Interleaved#dotTwo}). */
    static void dotTwo(WeightMatrix m, int group0, int group1, Activation a, float[] out, int o0, int o1) {
        MemorySegment s = m.data();
        long off0 = (long) group0 * GROUP * m.rowBytes();
        long off1 = (long) group1 * GROUP * m.rowBytes();
        int nsb = m.cols() / 256;
        float[] halves = HALVES.get();
        java.util.Arrays.fill(out, o0, o0 + GROUP, 0f);
        java.util.Arrays.fill(out, o1, o1 + GROUP, 0f);
        for (int b = 0; b < nsb; b++) {
            for (int v = 0; v < GROUP / VL; v++) {
                superBlock(s, off0 + (long) b * GROUP_BLOCK + v * VL * 4L, a, b, out, o0 + v * VL, halves);
                superBlock(s, off1 + (long) b * GROUP_BLOCK + v * VL * 4L, a, b, out, o1 + v * VL, halves);
            }
        }
    }

    /**
     * {@link #dot} for four tokens at once, each into its own output: a group's weights are unpacked once per four tokens
     * instead of once per token (per 64 bytes, the shifts and masks are 7 of a token's 19 operations). Each token's
     * arithmetic is {@link #dot}'s: the same integers (exact in any order) and the same float steps, lane for lane.
     */
    static void dot4(WeightMatrix m, int group, Activation a0, Activation a1, Activation a2, Activation a3,
                     float[] t0, float[] t1, float[] t2, float[] t3, int o) {
        MemorySegment s = m.data();
        long groupOff = (long) group * GROUP * m.rowBytes();
        int nsb = m.cols() / 256;
        int[] sums = SUMS4.get();
        float[] f = FLOATS.get();
        java.util.Arrays.fill(t0, o, o + GROUP, 0f);
        java.util.Arrays.fill(t1, o, o + GROUP, 0f);
        java.util.Arrays.fill(t2, o, o + GROUP, 0f);
        java.util.Arrays.fill(t3, o, o + GROUP, 0f);
        for (int b = 0; b < nsb; b++) {
            for (int v = 0; v < GROUP / VL; v++) {
                long base = groupOff + (long) b * GROUP_BLOCK + v * VL * 4L;
                java.util.Arrays.fill(sums, 0);
                for (int j = 0; j < 4; j++) {
                    chunk4(s, base, a0.q8kPairs, a1.q8kPairs, a2.q8kPairs, a3.q8kPairs, b, j, sums);
                }
                int r = o + v * VL;
                floats(s, base, f);
                term(a0, b, t0, r, sums, 0, f);
                term(a1, b, t1, r, sums, VL, f);
                term(a2, b, t2, r, sums, 2 * VL, f);
                term(a3, b, t3, r, sums, 3 * VL, f);
            }
        }
    }

    /**
     * Chunk j (sub-blocks 2j and 2j + 1) of a super-block of VL rows for four tokens: each one's two sub-block dots
     * times their scales, added to its {@code sums[t * VL ..]}. The steps of {@link #superBlock}'s chunk loop, with
     * the weights' nibbles taken out once for the four.
     */
    private static void chunk4(MemorySegment s, long base, int[] x0, int[] x1, int[] x2, int[] x3, int b, int j, int[] sums) {
        ShortVector lo0 = ShortVector.zero(S);
        ShortVector hi0 = lo0, lo1 = lo0, hi1 = lo0, lo2 = lo0, hi2 = lo0, lo3 = lo0, hi3 = lo0;
        for (int i = 0; i < 8; i++) {
            ShortVector g = IntVector.fromMemorySegment(I, s, base + (4 + 8 * j + i) * 64L, LE).reinterpretAsShorts();
            ShortVector f0 = g.and((short) 0xF);
            ShortVector f1 = g.lanewise(VectorOperators.LSHR, 8).and((short) 0xF);
            ShortVector f2 = g.lanewise(VectorOperators.LSHR, 4).and((short) 0xF);
            ShortVector f3 = g.lanewise(VectorOperators.LSHR, 12);
            int p = (b * 256 + 64 * j + 4 * i) / 2;
            lo0 = lo0.add(f0.mul(IntVector.broadcast(I, x0[p]).reinterpretAsShorts())).add(f1.mul(IntVector.broadcast(I, x0[p + 1]).reinterpretAsShorts()));
            hi0 = hi0.add(f2.mul(IntVector.broadcast(I, x0[p + 16]).reinterpretAsShorts())).add(f3.mul(IntVector.broadcast(I, x0[p + 17]).reinterpretAsShorts()));
            lo1 = lo1.add(f0.mul(IntVector.broadcast(I, x1[p]).reinterpretAsShorts())).add(f1.mul(IntVector.broadcast(I, x1[p + 1]).reinterpretAsShorts()));
            hi1 = hi1.add(f2.mul(IntVector.broadcast(I, x1[p + 16]).reinterpretAsShorts())).add(f3.mul(IntVector.broadcast(I, x1[p + 17]).reinterpretAsShorts()));
            lo2 = lo2.add(f0.mul(IntVector.broadcast(I, x2[p]).reinterpretAsShorts())).add(f1.mul(IntVector.broadcast(I, x2[p + 1]).reinterpretAsShorts()));
            hi2 = hi2.add(f2.mul(IntVector.broadcast(I, x2[p + 16]).reinterpretAsShorts())).add(f3.mul(IntVector.broadcast(I, x2[p + 17]).reinterpretAsShorts()));
            lo3 = lo3.add(f0.mul(IntVector.broadcast(I, x3[p]).reinterpretAsShorts())).add(f1.mul(IntVector.broadcast(I, x3[p + 1]).reinterpretAsShorts()));
            hi3 = hi3.add(f2.mul(IntVector.broadcast(I, x3[p + 16]).reinterpretAsShorts())).add(f3.mul(IntVector.broadcast(I, x3[p + 17]).reinterpretAsShorts()));
        }
        // The scales of sub-blocks 2j and 2j + 1 (bytes 2j and 2j + 1 of superBlock's s03, s47).
        IntVector b0to3 = IntVector.fromMemorySegment(I, s, base + 64, LE);
        IntVector sc = j < 2 ? b0to3.and(0x3F3F3F3F)
                : IntVector.fromMemorySegment(I, s, base + 192, LE).and(0x0F0F0F0F).or(b0to3.lanewise(VectorOperators.LSHR, 2).and(0x30303030));
        sc = sc.lanewise(VectorOperators.LSHR, 16 * (j & 1));
        IntVector sl = sc.and(0xFF);
        IntVector sh = sc.lanewise(VectorOperators.LSHR, 8).and(0xFF);
        IntVector l = lo0.reinterpretAsInts();
        IntVector h = hi0.reinterpretAsInts();
        IntVector.fromArray(I, sums, 0)
                .add(l.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(l.lanewise(VectorOperators.ASHR, 16)).mul(sl))
                .add(h.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(h.lanewise(VectorOperators.ASHR, 16)).mul(sh))
                .intoArray(sums, 0);
        l = lo1.reinterpretAsInts();
        h = hi1.reinterpretAsInts();
        IntVector.fromArray(I, sums, VL)
                .add(l.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(l.lanewise(VectorOperators.ASHR, 16)).mul(sl))
                .add(h.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(h.lanewise(VectorOperators.ASHR, 16)).mul(sh))
                .intoArray(sums, VL);
        l = lo2.reinterpretAsInts();
        h = hi2.reinterpretAsInts();
        IntVector.fromArray(I, sums, 2 * VL)
                .add(l.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(l.lanewise(VectorOperators.ASHR, 16)).mul(sl))
                .add(h.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(h.lanewise(VectorOperators.ASHR, 16)).mul(sh))
                .intoArray(sums, 2 * VL);
        l = lo3.reinterpretAsInts();
        h = hi3.reinterpretAsInts();
        IntVector.fromArray(I, sums, 3 * VL)
                .add(l.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(l.lanewise(VectorOperators.ASHR, 16)).mul(sl))
                .add(h.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(h.lanewise(VectorOperators.ASHR, 16)).mul(sh))
                .intoArray(sums, 3 * VL);
    }

    /**
     * What a super-block's term takes from the rows, whatever the token: the eight minimums as floats at
     * {@code f[j * VL ..]}, d at {@code f[8 * VL ..]} and dmin at {@code f[9 * VL ..]} (worked out once for
     * {@link #dot4}'s four tokens).
     */
    static void floats(MemorySegment s, long base, float[] f) {
        IntVector b4to7 = IntVector.fromMemorySegment(I, s, base + 128, LE);
        IntVector b8to11 = IntVector.fromMemorySegment(I, s, base + 192, LE);
        IntVector m03 = b4to7.and(0x3F3F3F3F);
        IntVector m47 = b8to11.lanewise(VectorOperators.LSHR, 4).and(0x0F0F0F0F)
                .or(b4to7.lanewise(VectorOperators.LSHR, 2).and(0x30303030));
        for (int j = 0; j < 8; j++) {
            IntVector mj = (j < 4 ? m03 : m47).lanewise(VectorOperators.LSHR, 8 * (j & 3)).and(0xFF);
            ((FloatVector) mj.convert(VectorOperators.I2F, 0)).intoArray(f, j * VL);
        }
        IntVector dd = IntVector.fromMemorySegment(I, s, base, LE);
        Interleaved.halvesToFloats(dd).intoArray(f, 8 * VL);
        Interleaved.halvesToFloats(dd.lanewise(VectorOperators.LSHR, 16)).intoArray(f, 9 * VL);
    }

    /**
     * One token's term from the rows' {@link #floats} and its integer sums ({@code sums[k..k + VL)}), added to
     * {@code total[o..o + VL)}: {@link #superBlock}'s float steps, lane for lane (the minimums' chain in the same order).
     */
    static void term(Activation a, int b, float[] total, int o, int[] sums, int k, float[] f) {
        FloatVector mins = FloatVector.zero(F);
        for (int j = 0; j < 8; j++) {
            mins = FloatVector.fromArray(F, f, j * VL).fma(FloatVector.broadcast(F, a.q8kSum32[b * 8 + j]), mins);
        }
        float da = a.q8kScale[b];
        FloatVector sum = (FloatVector) IntVector.fromArray(I, sums, k).convert(VectorOperators.I2F, 0);
        FloatVector term = FloatVector.fromArray(F, f, 8 * VL).mul(da).mul(sum).sub(FloatVector.fromArray(F, f, 9 * VL).mul(da).mul(mins));
        FloatVector.fromArray(F, total, o).add(term).intoArray(total, o);
    }

    /**
     * One super-block of VL rows (their ints at {@code base + i * 64}): {@link KQuantDots#q4_k}'s super-block term,
     * lane by lane, added to {@code total[o..o + VL)} (through the array: a vector returned from a method C2 does not
     * inline is boxed).
     */
    private static void superBlock(MemorySegment s, long base, Activation a, int b, float[] total, int o,
                                   float[] halves) {
        // d and dmin, halves (the Vector API has no half conversion; the scalar one is an intrinsic). Converted first:
        // the vector load that reads them back cannot take its bytes from sixteen scalar stores still in flight (a
        // failed store-to-load forwarding stalls), so the stores must be long done by then.
        for (int c = 0; c < VL; c++) {
            halves[c] = Float.float16ToFloat(s.get(Bytes.LE_SHORT, base + 4L * c));
            halves[VL + c] = Float.float16ToFloat(s.get(Bytes.LE_SHORT, base + 4L * c + 2));
        }
        // The eight 6-bit scales and minimums (as KQuantRowGemm.widen decodes them): bytes 0-3 hold scales 0-3 and
        // two high bits of scales 4-7, bytes 4-7 the same for the minimums, bytes 8-11 the low four bits of scales
        // 4-7 (low nibbles) and minimums 4-7 (high nibbles).
        IntVector b0to3 = IntVector.fromMemorySegment(I, s, base + 64, LE);
        IntVector b4to7 = IntVector.fromMemorySegment(I, s, base + 128, LE);
        IntVector b8to11 = IntVector.fromMemorySegment(I, s, base + 192, LE);
        IntVector s03 = b0to3.and(0x3F3F3F3F);
        IntVector s47 = b8to11.and(0x0F0F0F0F).or(b0to3.lanewise(VectorOperators.LSHR, 2).and(0x30303030));
        IntVector m03 = b4to7.and(0x3F3F3F3F);
        IntVector m47 = b8to11.lanewise(VectorOperators.LSHR, 4).and(0x0F0F0F0F)
                .or(b4to7.lanewise(VectorOperators.LSHR, 2).and(0x30303030));
        IntVector sum = IntVector.zero(I);
        int[] x = a.q8kPairs;
        for (int j = 0; j < 4; j++) {
            // Chunk j: sub-blocks 2j (low nibbles) and 2j + 1 (high), in 16-bit lanes: each 32-bit lane (a row) holds
            // weights k, k + 2 in its halves' low nibbles (bytes 0 and 2), k + 1, k + 3 above them (bytes 1 and 3),
            // and k + 32.. in the high nibbles; a broadcast pair of activations faces each. A half sums 16 products
            // of at most 15 * 127: below 2^15. (Written out: a helper, small as it is, was not inlined here.)
            ShortVector lo = ShortVector.zero(S);
            ShortVector hi = lo;
            for (int i = 0; i < 8; i++) {
                ShortVector g = IntVector.fromMemorySegment(I, s, base + (4 + 8 * j + i) * 64L, LE).reinterpretAsShorts();
                int p = (b * 256 + 64 * j + 4 * i) / 2;
                lo = lo.add(g.and((short) 0xF).mul(IntVector.broadcast(I, x[p]).reinterpretAsShorts()));
                lo = lo.add(g.lanewise(VectorOperators.LSHR, 8).and((short) 0xF).mul(IntVector.broadcast(I, x[p + 1]).reinterpretAsShorts()));
                hi = hi.add(g.lanewise(VectorOperators.LSHR, 4).and((short) 0xF).mul(IntVector.broadcast(I, x[p + 16]).reinterpretAsShorts()));
                hi = hi.add(g.lanewise(VectorOperators.LSHR, 12).mul(IntVector.broadcast(I, x[p + 17]).reinterpretAsShorts()));
            }
            // Each row's two halves added as ints, times the sub-blocks' scales (bytes 2j and 2j + 1 of s03, s47).
            IntVector l = lo.reinterpretAsInts();
            IntVector h = hi.reinterpretAsInts();
            l = l.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(l.lanewise(VectorOperators.ASHR, 16));
            h = h.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(h.lanewise(VectorOperators.ASHR, 16));
            IntVector sc = (j < 2 ? s03 : s47).lanewise(VectorOperators.LSHR, 16 * (j & 1));
            sum = sum.add(l.mul(sc.and(0xFF))).add(h.mul(sc.lanewise(VectorOperators.LSHR, 8).and(0xFF)));
        }
        // The minimums' term: sum over sub-blocks of minimum times the activation's integer sum (exact in floats).
        FloatVector mins = FloatVector.zero(F);
        for (int j = 0; j < 8; j++) {
            IntVector mj = (j < 4 ? m03 : m47).lanewise(VectorOperators.LSHR, 8 * (j & 3)).and(0xFF);
            mins = ((FloatVector) mj.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, a.q8kSum32[b * 8 + j]), mins);
        }
        float da = a.q8kScale[b];
        FloatVector d = FloatVector.fromArray(F, halves, 0);
        FloatVector dmin = FloatVector.fromArray(F, halves, VL);
        FloatVector term = d.mul(da).mul((FloatVector) sum.convert(VectorOperators.I2F, 0)).sub(dmin.mul(da).mul(mins));
        FloatVector.fromArray(F, total, o).add(term).intoArray(total, o);
    }

}
