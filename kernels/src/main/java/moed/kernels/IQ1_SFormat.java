package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * IQ1_S: block_iq1_s { half d; uint8 qs[32]; uint16 qh[8]; } (1.56 bits per weight). Each 8 weights are an 11-bit
 * index into {@link IQGrids#IQ1S} (values -1, 0, 1): low 8 bits in qs, 3 high bits in the 32 weights' qh word, which
 * also holds a 3-bit scale s (bits 12-14) and the sign of a shift (bit 15): w = d * (2s + 1) * (grid +- 1/8).
 */
final class IQ1_SFormat extends UnpackedFormat {
    /** ggml's {@code IQ1S_DELTA}. */
    static final float DELTA = 0.125f;

    IQ1_SFormat() {
        super(GgmlType.IQ1_S, 50);
    }

    @Override
    void dequantizeBlock(MemorySegment s, long bo, float[] y, int o) {
        float d = Bytes.f16(s, bo);
        for (int ib = 0; ib < 8; ib++) {
            int qh = Bytes.u16(s, bo + 34 + 2L * ib);
            float dl = d * (2 * ((qh >>> 12) & 7) + 1);
            float delta = (qh & 0x8000) != 0 ? -DELTA : DELTA;
            for (int l = 0; l < 4; l++) {
                long grid = IQGrids.IQ1S[Bytes.u8(s, bo + 2 + 4 * ib + l) | ((qh >>> (3 * l)) & 7) << 8];
                for (int j = 0; j < 8; j++) {
                    y[o++] = dl * ((byte) (grid >>> (8 * j)) + delta);
                }
            }
        }
    }

    // dl * (g + delta) = d / 8 * (2s + 1) * (8g +- 1): integers 8g +- 1, scale 2s + 1, factor d / 8.
    @Override
    float unpack(MemorySegment s, long bo, UnpackedBlock u) {
        for (int ib = 0; ib < 8; ib++) {
            int qs = s.get(Bytes.LE_INT, bo + 2 + 4L * ib);
            int qh = Bytes.u16(s, bo + 34 + 2L * ib);
            boolean minus = (qh & 0x8000) != 0;
            for (int l = 0; l < 4; l++) {
                long grid = IQGrids.IQ1S[(qs >>> (8 * l) & 0xFF) | ((qh >>> (3 * l)) & 7) << 8];
                u.put8(32 * ib + 8 * l, IQGrids.iq1Values(grid, minus));
            }
            u.scale32(ib, 2 * ((qh >>> 12) & 7) + 1);
        }
        return Bytes.f16(s, bo) * 0.125f;
    }

    @Override
    void makeRandomBlockValid(MemorySegment s, long bo, SplittableRandom rnd) {
        s.set(Bytes.LE_SHORT, bo, SMALL_SCALE);
    }
}
