package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * IQ4_XS: block_iq4_xs { half d; uint16 scales_h; uint8 scales_l[4]; uint8 qs[128]; } (4.25 bits per weight): IQ4_NL's
 * non-linear levels ({@link IQ4_NLFormat#VALUES}) in 256-weight blocks, each 32 weights with a 6-bit scale ls (low
 * four bits in a nibble of scales_l, high two in scales_h) and nibbles ordered as in IQ4_NL:
 * w = d * (ls - 32) * VALUES[q]. Dotted against Q8_K activations: one byte shuffle looks up 16 weights.
 */
final class IQ4_XSFormat extends BlockFormat {
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    IQ4_XSFormat() {
        super(GgmlType.IQ4_XS, 256, 136, Activation.Form.Q8_K);
    }

    private static int subScale(MemorySegment s, long bo, int ib) {
        int low = Bytes.u8(s, bo + 4 + ib / 2) >>> (4 * (ib % 2)) & 0xF;
        int high = Bytes.u16(s, bo + 2) >>> (2 * ib) & 3;
        return (low | high << 4) - 32;
    }

    @Override
    void dequantizeBlock(MemorySegment s, long bo, float[] y, int o) {
        float d = Bytes.f16(s, bo);
        for (int ib = 0; ib < 8; ib++) {
            float dl = d * subScale(s, bo, ib);
            for (int j = 0; j < 16; j++) {
                int q = Bytes.u8(s, bo + 8 + 16 * ib + j);
                y[o + 32 * ib + j] = dl * IQ4_NLFormat.VALUES[q & 0xF];
                y[o + 32 * ib + j + 16] = dl * IQ4_NLFormat.VALUES[q >>> 4];
            }
        }
    }

    // Per 32 weights the integer dot (as IQ4_NL's, Int16Dot.dot32 written out) times the integer scale, summed in
    // int lanes; the block's sum is converted once and multiplied by d and the activation's scale.
    @Override
    float dot(MemorySegment s, long off, Activation a, int n) {
        short[] q = a.q8k;
        ByteVector table = ByteVector.fromArray(Int16Dot.B16, IQ4_NLFormat.VALUES, 0);
        float total = 0;
        for (int b = 0; b < n / 256; b++) {
            long bo = off + 136L * b;
            int sh = Bytes.u16(s, bo + 2);
            int sl = s.get(Bytes.LE_INT, bo + 4);
            IntVector acc = IntVector.zero(Int16Dot.I);
            for (int ib = 0; ib < 8; ib++) {
                int ls = ((sl >>> (4 * ib) & 0xF) | (sh >>> (2 * ib) & 3) << 4) - 32;
                ByteVector packed = ByteVector.fromMemorySegment(Int16Dot.B16, s, bo + 8 + 16L * ib, LE);
                ShortVector lo = (ShortVector) packed.and((byte) 0xF).selectFrom(table).convertShape(VectorOperators.B2S, Int16Dot.S, 0);
                ShortVector hi = (ShortVector) packed.lanewise(VectorOperators.LSHR, 4).selectFrom(table).convertShape(VectorOperators.B2S, Int16Dot.S, 0);
                int o = 256 * b + 32 * ib;
                IntVector p = lo.mul(ShortVector.fromArray(Int16Dot.S, q, o)).reinterpretAsInts();
                IntVector r = hi.mul(ShortVector.fromArray(Int16Dot.S, q, o + 16)).reinterpretAsInts();
                IntVector pairs = p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                        .add(r.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)).add(r.lanewise(VectorOperators.ASHR, 16));
                acc = acc.add(pairs.mul(ls));
            }
            total += Bytes.f16(s, bo) * a.q8kScale[b] * acc.reduceLanes(VectorOperators.ADD);
        }
        return total;
    }

    @Override
    void makeRandomBlockValid(MemorySegment s, long bo, SplittableRandom rnd) {
        s.set(Bytes.LE_SHORT, bo, SMALL_SCALE);
    }
}
