package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * IQ3_S: block_iq3_s { half d; uint8 qs[64]; uint8 qh[8]; uint8 signs[32]; uint8 scales[4]; } (3.44 bits per
 * weight). Each 4 weights are a 9-bit index into {@link IQGrids#IQ3S} (low 8 bits in qs, the ninth in qh: one qh byte
 * per 32 weights), each 8 weights a sign byte; each 32 weights a 4-bit scale s (two per scales byte):
 * w = d * (1 + 2s) * grid * sign. A token's dot product runs {@link IQ3SPlanes} where {@link GridPlanes} run, else the
 * scalar decode.
 */
final class IQ3_SFormat extends UnpackedFormat {
    /** A block's float factor (what {@link #unpack} returns) is d times this: d itself. */
    private static final float FACTOR = 1f;

    IQ3_SFormat() {
        super(GgmlType.IQ3_S, 110, () -> IQ3SPlanes.KERNEL, FACTOR);
    }

    @Override
    void dequantizeBlock(MemorySegment s, long bo, float[] y, int o) {
        float d = Bytes.f16(s, bo);
        for (int ib = 0; ib < 8; ib++) {
            int sc = Bytes.u8(s, bo + 106 + ib / 2);
            float db = d * (1 + 2 * (ib % 2 == 0 ? sc & 0xF : sc >>> 4));
            int qh = Bytes.u8(s, bo + 66 + ib);
            for (int l = 0; l < 4; l++) {
                int grid1 = IQGrids.IQ3S[Bytes.u8(s, bo + 2 + 8 * ib + 2 * l) | (qh << (8 - 2 * l) & 256)];
                int grid2 = IQGrids.IQ3S[Bytes.u8(s, bo + 2 + 8 * ib + 2 * l + 1) | (qh << (7 - 2 * l) & 256)];
                int sign = Bytes.u8(s, bo + 74 + 4 * ib + l);
                IQGrids.signed8(grid1 & 0xFFFFFFFFL | (long) grid2 << 32, sign, db, y, o);
                o += 8;
            }
        }
    }

    @Override
    float unpack(MemorySegment s, long bo, UnpackedBlock u) {
        for (int ib = 0; ib < 8; ib++) {
            long low = s.get(Bytes.LE_LONG, bo + 2 + 8L * ib);
            int signs = s.get(Bytes.LE_INT, bo + 74 + 4L * ib);
            int qh = Bytes.u8(s, bo + 66 + ib);
            for (int l = 0; l < 4; l++) {
                long g1 = IQGrids.IQ3S[((int) (low >>> (16 * l)) & 0xFF) | (qh << (8 - 2 * l) & 256)] & 0xFFFFFFFFL;
                long g2 = IQGrids.IQ3S[((int) (low >>> (16 * l + 8)) & 0xFF) | (qh << (7 - 2 * l) & 256)];
                u.put8(32 * ib + 8 * l, IQGrids.applySigns(g1 | g2 << 32, IQGrids.BYTE_SIGNS[signs >>> (8 * l) & 0xFF]));
            }
            int sc = Bytes.u8(s, bo + 106 + ib / 2);
            u.scale32(ib, 1 + 2 * (ib % 2 == 0 ? sc & 0xF : sc >>> 4));
        }
        return Float.float16ToFloat(s.get(Bytes.LE_SHORT, bo)) * FACTOR;
    }

    @Override
    void makeRandomBlockValid(MemorySegment s, long bo, SplittableRandom rnd) {
        s.set(Bytes.LE_SHORT, bo, SMALL_SCALE);
    }
}
