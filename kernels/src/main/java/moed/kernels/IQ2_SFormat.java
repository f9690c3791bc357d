package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * IQ2_S: block_iq2_s { half d; uint8 qs[64]; uint8 qh[8]; uint8 scales[8]; } (2.56 bits per weight). qs[0..32) hold
 * the low 8 bits of each 8 weights' index into {@link IQGrids#IQ2S}, qh two high bits per 8 weights, qs[32..64) one
 * sign byte per 8 weights (bit j: weight j negative); 4-bit scales per 16 weights: w = d * (0.5 + s) / 4 * grid * sign.
 * A token's dot product runs {@link IQ2SPlanes} where {@link GridPlanes} run, else the scalar decode.
 */
final class IQ2_SFormat extends UnpackedFormat {
    /** A block's float factor (what {@link #unpack} returns) is d times this: d / 8. */
    private static final float FACTOR = 0.125f;

    IQ2_SFormat() {
        super(GgmlType.IQ2_S, 82, () -> IQ2SPlanes.KERNEL, FACTOR);
    }

    @Override
    void dequantizeBlock(MemorySegment s, long bo, float[] y, int o) {
        float d = Bytes.f16(s, bo);
        for (int ib = 0; ib < 8; ib++) {
            int sc = Bytes.u8(s, bo + 74 + ib);
            float[] db = {d * (0.5f + (sc & 0xF)) * 0.25f, d * (0.5f + (sc >>> 4)) * 0.25f};
            int qh = Bytes.u8(s, bo + 66 + ib);
            for (int l = 0; l < 4; l++) {
                long grid = IQGrids.IQ2S[Bytes.u8(s, bo + 2 + 4 * ib + l) | (qh << (8 - 2 * l) & 0x300)];
                int sign = Bytes.u8(s, bo + 34 + 4 * ib + l);
                IQGrids.signed8(grid, sign, db[l / 2], y, o);
                o += 8;
            }
        }
    }

    @Override
    float unpack(MemorySegment s, long bo, UnpackedBlock u) {
        for (int ib = 0; ib < 8; ib++) {
            int low = s.get(Bytes.LE_INT, bo + 2 + 4L * ib);
            int signs = s.get(Bytes.LE_INT, bo + 34 + 4L * ib);
            int qh = Bytes.u8(s, bo + 66 + ib);
            for (int l = 0; l < 4; l++) {
                int index = (low >>> (8 * l) & 0xFF) | (qh << (8 - 2 * l) & 0x300);
                u.put8(32 * ib + 8 * l, IQGrids.applySigns(IQGrids.IQ2S[index], IQGrids.BYTE_SIGNS[signs >>> (8 * l) & 0xFF]));
            }
            u.oddScales(ib, Bytes.u8(s, bo + 74 + ib));
        }
        return Float.float16ToFloat(s.get(Bytes.LE_SHORT, bo)) * FACTOR;
    }

    @Override
    void makeRandomBlockValid(MemorySegment s, long bo, SplittableRandom rnd) {
        s.set(Bytes.LE_SHORT, bo, SMALL_SCALE);
    }
}
