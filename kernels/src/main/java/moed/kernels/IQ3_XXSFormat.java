package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * IQ3_XXS: block_iq3_xxs { half d; uint8 qs[64]; uint8 scales_and_signs[32]; } (3.06 bits per weight). Each 4
 * weights are one index byte into {@link IQGrids#IQ3XXS}; each 32 weights have a 32-bit word with four 7-bit sign
 * indices (for 8 weights each, {@link IQGrids#SIGNS7}) and the scale s in its top four bits:
 * w = d * (0.5 + s) / 2 * grid * sign. A token's dot product runs {@link IQ3XXSPlanes} where {@link GridPlanes} run,
 * else the scalar decode.
 */
final class IQ3_XXSFormat extends UnpackedFormat {
    /** A block's float factor (what {@link #unpack} returns) is d times this: d / 4. */
    private static final float FACTOR = 0.25f;

    IQ3_XXSFormat() {
        super(GgmlType.IQ3_XXS, 98, () -> IQ3XXSPlanes.KERNEL, FACTOR);
    }

    @Override
    void dequantizeBlock(MemorySegment s, long bo, float[] y, int o) {
        float d = Bytes.f16(s, bo);
        for (int ib = 0; ib < 8; ib++) {
            int aux = s.get(Bytes.LE_INT, bo + 66 + 4L * ib);
            float db = d * (0.5f + (aux >>> 28)) * 0.5f;
            for (int l = 0; l < 4; l++) {
                int sign = IQGrids.ksigns(aux >>> (7 * l) & 127);
                int grid1 = IQGrids.IQ3XXS[Bytes.u8(s, bo + 2 + 8 * ib + 2 * l)];
                int grid2 = IQGrids.IQ3XXS[Bytes.u8(s, bo + 2 + 8 * ib + 2 * l + 1)];
                IQGrids.signed8(grid1 & 0xFFFFFFFFL | (long) grid2 << 32, sign, db, y, o);
                o += 8;
            }
        }
    }

    // db = d * (0.5 + s) / 2 = d / 4 * (2s + 1).
    @Override
    float unpack(MemorySegment s, long bo, UnpackedBlock u) {
        for (int ib = 0; ib < 8; ib++) {
            long grids = s.get(Bytes.LE_LONG, bo + 2 + 8L * ib);
            int aux = s.get(Bytes.LE_INT, bo + 66 + 4L * ib);
            for (int l = 0; l < 4; l++) {
                long g1 = IQGrids.IQ3XXS[(int) (grids >>> (16 * l)) & 0xFF] & 0xFFFFFFFFL;
                long g2 = IQGrids.IQ3XXS[(int) (grids >>> (16 * l + 8)) & 0xFF];
                u.put8(32 * ib + 8 * l, IQGrids.applySigns(g1 | g2 << 32, IQGrids.SIGNS7[aux >>> (7 * l) & 127]));
            }
            u.scale32(ib, 2 * (aux >>> 28) + 1);
        }
        return Float.float16ToFloat(s.get(Bytes.LE_SHORT, bo)) * FACTOR;
    }

    @Override
    void makeRandomBlockValid(MemorySegment s, long bo, SplittableRandom rnd) {
        s.set(Bytes.LE_SHORT, bo, SMALL_SCALE);
    }
}
