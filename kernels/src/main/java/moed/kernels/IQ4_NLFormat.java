package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * IQ4_NL: block_iq4_nl { half d; uint8 qs[16]; }: each nibble (ordered as in Q4_0) indexes a table of 16 non-linear
 * levels, w = d * VALUES[q]. Dotted against Q8_0 activations.
 */
final class IQ4_NLFormat extends BlockFormat {
    /** ggml's {@code kvalues_iq4nl}: the 16 non-linear levels. */
    static final byte[] VALUES = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

    IQ4_NLFormat() {
        super(GgmlType.IQ4_NL, 32, 18, Activation.Form.Q8_0);
    }

    @Override
    float dot(MemorySegment s, long off, Activation a, int n) {
        return Block32Dots.iq4_nl(s, off, a, n / 32);
    }

    @Override
    void dequantizeBlock(MemorySegment s, long bo, float[] y, int o) {
        float d = Bytes.f16(s, bo);
        for (int j = 0; j < 16; j++) {
            int q = Bytes.u8(s, bo + 2 + j);
            y[o + j] = d * VALUES[q & 0xF];
            y[o + j + 16] = d * VALUES[q >>> 4];
        }
    }

    @Override
    void makeRandomBlockValid(MemorySegment s, long bo, SplittableRandom rnd) {
        s.set(Bytes.LE_SHORT, bo, SMALL_SCALE);
    }
}
