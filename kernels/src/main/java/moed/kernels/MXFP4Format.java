package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/**
 * MXFP4: block_mxfp4 { uint8 e; uint8 qs[16]; }: an E8M0 shared exponent, and nibbles (ordered as in Q4_0) that are
 * FP4 (E2M1) values. The table is doubled so it holds integers, and the scale halved to match. Dotted against Q8_0
 * activations.
 */
final class MXFP4Format extends BlockFormat {
    /** ggml's {@code kvalues_mxfp4}: the FP4 (E2M1) values, doubled so they are integers. */
    static final byte[] VALUES = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

    MXFP4Format() {
        super(GgmlType.MXFP4, 32, 17, Activation.Form.Q8_0);
    }

    @Override
    float dot(MemorySegment s, long off, Activation a, int n) {
        return Block32Dots.mxfp4(s, off, a, n / 32);
    }

    @Override
    void dequantizeBlock(MemorySegment s, long bo, float[] y, int o) {
        float d = e8m0Half(Bytes.u8(s, bo));
        for (int j = 0; j < 16; j++) {
            int q = Bytes.u8(s, bo + 1 + j);
            y[o + j] = d * VALUES[q & 0xF];
            y[o + j + 16] = d * VALUES[q >>> 4];
        }
    }

    /** ggml's {@code GGML_E8M0_TO_FP32_HALF}: 2^(e-127) / 2, with e = 0 and e = 1 as subnormals. */
    static float e8m0Half(int e) {
        int bits = e < 2 ? 0x00200000 << e : (e - 1) << 23;
        return Float.intBitsToFloat(bits);
    }

    /** Exponent 120: a scale of 2^-8. */
    @Override
    void makeRandomBlockValid(MemorySegment s, long bo, SplittableRandom rnd) {
        s.set(ValueLayout.JAVA_BYTE, bo, (byte) 120);
    }
}
