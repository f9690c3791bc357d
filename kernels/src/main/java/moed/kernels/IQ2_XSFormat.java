package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * IQ2_XS: block_iq2_xs { half d; uint16 qs[32]; uint8 scales[8]; } (2.31 bits per weight). Each 8 weights are one
 * 16-bit word: a 9-bit index into {@link IQGrids#IQ2XS} and a 7-bit sign index ({@link IQGrids#SIGNS7}); each 16
 * weights have a 4-bit scale s (low nibble of scales[ib] for the first 16 of 32, high for the second):
 * w = d * (0.5 + s) / 4 * grid * sign. A token's dot product runs {@link IQ2XSPlanes} where {@link GridPlanes} run,
 * else the scalar decode.
 */
final class IQ2_XSFormat extends UnpackedFormat {
    /** A block's float factor (what {@link #unpack} returns) is d times this: d / 8. */
    private static final float FACTOR = 0.125f;

    IQ2_XSFormat() {
        super(GgmlType.IQ2_XS, 74, () -> IQ2XSPlanes.KERNEL, FACTOR);
    }

    @Override
    void dequantizeBlock(MemorySegment s, long bo, float[] y, int o) {
        float d = Bytes.f16(s, bo);
        for (int ib = 0; ib < 8; ib++) {
            int sc = Bytes.u8(s, bo + 66 + ib);
            float[] db = {d * (0.5f + (sc & 0xF)) * 0.25f, d * (0.5f + (sc >>> 4)) * 0.25f};
            for (int l = 0; l < 4; l++) {
                int v = Bytes.u16(s, bo + 2 + 2L * (4 * ib + l));
                long grid = IQGrids.IQ2XS[v & 511];
                int sign = IQGrids.ksigns(v >>> 9);
                IQGrids.signed8(grid, sign, db[l / 2], y, o);
                o += 8;
            }
        }
    }

    @Override
    float unpack(MemorySegment s, long bo, UnpackedBlock u) {
        for (int ib = 0; ib < 8; ib++) {
            long word = s.get(Bytes.LE_LONG, bo + 2 + 8L * ib);
            for (int l = 0; l < 4; l++) {
                int v = (int) (word >>> (16 * l)) & 0xFFFF;
                u.put8(32 * ib + 8 * l, IQGrids.applySigns(IQGrids.IQ2XS[v & 511], IQGrids.SIGNS7[v >>> 9]));
            }
            u.oddScales(ib, Bytes.u8(s, bo + 66 + ib));
        }
        return Float.float16ToFloat(s.get(Bytes.LE_SHORT, bo)) * FACTOR;
    }

    @Override
    void makeRandomBlockValid(MemorySegment s, long bo, SplittableRandom rnd) {
        s.set(Bytes.LE_SHORT, bo, SMALL_SCALE);
    }
}
