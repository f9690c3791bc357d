package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * IQ4_XS: block_iq4_xs { half d; uint16 scales_h; uint8 scales_l[4]; uint8 qs[128]; } (4.25 bits per weight): IQ4_NL's
 * non-linear levels ({@link IQ4_NLFormat#VALUES}) in 256-weight blocks, each 32 weights with a 6-bit scale ls (low
 * four bits in a nibble of scales_l, high two in scales_h) and nibbles ordered as in IQ4_NL:
 * w = d * (ls - 32) * VALUES[q]. Dotted against Q8_K activations: one byte shuffle looks up 16 weights.
 */
final class IQ4_XSFormat extends BlockFormat {
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Two sub-blocks' 16 packed bytes each: one 256-bit byte vector, widened to a full 512-bit short vector. */
    private static final VectorSpecies<Byte> B32 = ByteVector.SPECIES_256;
    /** The 16 levels twice, so that a 32-lane shuffle finds them whatever its lane. */
    private static final byte[] VALUES32 = new byte[32];

    static {
        for (int i = 0; i < 32; i++) {
            VALUES32[i] = IQ4_NLFormat.VALUES[i % 16];
        }
    }

    IQ4_XSFormat() {
        super(GgmlType.IQ4_XS, 256, 136, Activation.Form.Q8_K);
    }

    /** At 512 bits the kernel reads the activation in its nibbles' order (dotWide); asked only once the width is set. */
    @Override
    Activation.Form activation() {
        return Int16Dot.WIDE ? Activation.Form.Q8_K_NIBBLES : Activation.Form.Q8_K;
    }

    /** Sub-block ib's scale ls - 32, from scales_l as a little-endian int and scales_h. */
    private static int subScale(int scalesL, int scalesH, int ib) {
        return ((scalesL >>> (4 * ib) & 0xF) | (scalesH >>> (2 * ib) & 3) << 4) - 32;
    }

    @Override
    void dequantizeBlock(MemorySegment s, long bo, float[] y, int o) {
        float d = Bytes.f16(s, bo);
        for (int ib = 0; ib < 8; ib++) {
            float dl = d * subScale(s.get(Bytes.LE_INT, bo + 4), Bytes.u16(s, bo + 2), ib);
            for (int j = 0; j < 16; j++) {
                int q = Bytes.u8(s, bo + 8 + 16 * ib + j);
                y[o + 32 * ib + j] = dl * IQ4_NLFormat.VALUES[q & 0xF];
                y[o + 32 * ib + j + 16] = dl * IQ4_NLFormat.VALUES[q >>> 4];
            }
        }
    }

    // Per 32 weights the integer dot (as IQ4_NL's, Int16Dot.dot32 written out) times the integer scale, summed in
    // int lanes; the block's sum is converted once and multiplied by d and the activation's scale. At 512 bits two
    // sub-blocks at a time, 64 weights in two full short vectors: the low nibbles of both, then the high ones,
    // against the activation reordered to match (Activation.q8kNibbleOrder); a low and a high product share 16-bit
    // lanes (2 * 127 * 127 fits), int lanes 0-7 belong to the first sub-block, 8-15 to the second.
    @Override
    float dot(MemorySegment s, long off, Activation a, int n) {
        boolean wide = Int16Dot.WIDE;
        short[] q = wide ? a.q8kNibbleOrder : a.q8k;
        ByteVector table = wide ? ByteVector.fromArray(B32, VALUES32, 0) : ByteVector.fromArray(Int16Dot.B16, IQ4_NLFormat.VALUES, 0);
        VectorMask<Integer> second = VectorMask.fromLong(Int16Dot.I, 0xFF00L);
        float total = 0;
        for (int b = 0; b < n / 256; b++) {
            long bo = off + 136L * b;
            int sh = Bytes.u16(s, bo + 2);
            int sl = s.get(Bytes.LE_INT, bo + 4);
            IntVector acc = IntVector.zero(Int16Dot.I);
            if (wide) {
                for (int ib = 0; ib < 8; ib += 2) {
                    ByteVector packed = ByteVector.fromMemorySegment(B32, s, bo + 8 + 16L * ib, LE);
                    ShortVector lo = (ShortVector) packed.and((byte) 0xF).selectFrom(table).convertShape(VectorOperators.B2S, Int16Dot.S, 0);
                    ShortVector hi = (ShortVector) packed.lanewise(VectorOperators.LSHR, 4).selectFrom(table).convertShape(VectorOperators.B2S, Int16Dot.S, 0);
                    int o = 256 * b + 32 * ib;
                    IntVector p = lo.mul(ShortVector.fromArray(Int16Dot.S, q, o)).add(hi.mul(ShortVector.fromArray(Int16Dot.S, q, o + 32))).reinterpretAsInts();
                    IntVector pairs = p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16));
                    acc = acc.add(pairs.mul(IntVector.broadcast(Int16Dot.I, subScale(sl, sh, ib)).blend(subScale(sl, sh, ib + 1), second)));
                }
            } else {
                for (int ib = 0; ib < 8; ib++) {
                    ByteVector packed = ByteVector.fromMemorySegment(Int16Dot.B16, s, bo + 8 + 16L * ib, LE);
                    ShortVector lo = (ShortVector) packed.and((byte) 0xF).selectFrom(table).convertShape(VectorOperators.B2S, Int16Dot.S, 0);
                    ShortVector hi = (ShortVector) packed.lanewise(VectorOperators.LSHR, 4).selectFrom(table).convertShape(VectorOperators.B2S, Int16Dot.S, 0);
                    int o = 256 * b + 32 * ib;
                    IntVector p = lo.mul(ShortVector.fromArray(Int16Dot.S, q, o)).reinterpretAsInts();
                    IntVector r = hi.mul(ShortVector.fromArray(Int16Dot.S, q, o + 16)).reinterpretAsInts();
                    IntVector pairs = p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                            .add(r.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)).add(r.lanewise(VectorOperators.ASHR, 16));
                    acc = acc.add(pairs.mul(subScale(sl, sh, ib)));
                }
            }
            total += Float.float16ToFloat(s.get(Bytes.LE_SHORT, bo)) * a.q8kScale[b] * acc.reduceLanes(VectorOperators.ADD);
        }
        return total;
    }

    @Override
    boolean fasterAt512() {
        return true;
    }

    @Override
    void makeRandomBlockValid(MemorySegment s, long bo, SplittableRandom rnd) {
        s.set(Bytes.LE_SHORT, bo, SMALL_SCALE);
    }
}
