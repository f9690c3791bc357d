package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * IQ2_XXS: block_iq2_xxs { half d; uint16 qs[32]; } (2.06 bits per weight). Each 32 weights take 8 bytes: four grid
 * indices (bytes 0-3) into {@link IQGrids#IQ2XXS}, eight magnitudes each, and a 32-bit word with four 7-bit sign
 * indices ({@link IQGrids#SIGNS7}) and, in its top four bits, the scale s: w = d * (0.5 + s) / 4 * grid * sign.
 * A token's dot product runs {@link IQ2XXSPlanes} where the processor has its byte permutes, else the scalar decode.
 */
final class IQ2_XXSFormat extends UnpackedFormat {
    /** A block's float factor (what {@link #unpack} returns) is d times this: d / 8. */
    private static final float FACTOR = 0.125f;

    IQ2_XXSFormat() {
        super(GgmlType.IQ2_XXS, 66, () -> IQ2XXSPlanes.KERNEL, FACTOR);
    }

    @Override
    void dequantizeBlock(MemorySegment s, long bo, float[] y, int o) {
        float d = Bytes.f16(s, bo);
        for (int ib = 0; ib < 8; ib++) {
            int grids = s.get(Bytes.LE_INT, bo + 2 + 8L * ib);
            int signs = s.get(Bytes.LE_INT, bo + 6 + 8L * ib);
            float db = d * (0.5f + (signs >>> 28)) * 0.25f;
            for (int l = 0; l < 4; l++) {
                long grid = IQGrids.IQ2XXS[grids >>> (8 * l) & 0xFF];
                int sign = IQGrids.ksigns(signs >>> (7 * l) & 127);
                IQGrids.signed8(grid, sign, db, y, o);
                o += 8;
            }
        }
    }

    // db = d * (0.5 + s) / 4 = d / 8 * (2s + 1): the integer scale 2s + 1 and the factor d / 8.
    @Override
    float unpack(MemorySegment s, long bo, UnpackedBlock u) {
        for (int ib = 0; ib < 8; ib++) {
            long word = s.get(Bytes.LE_LONG, bo + 2 + 8L * ib);
            int signs = (int) (word >>> 32);
            for (int l = 0; l < 4; l++) {
                long grid = IQGrids.IQ2XXS[(int) (word >>> (8 * l)) & 0xFF];
                u.put8(32 * ib + 8 * l, IQGrids.applySigns(grid, IQGrids.SIGNS7[signs >>> (7 * l) & 127]));
            }
            u.scale32(ib, 2 * (signs >>> 28) + 1);
        }
        return Float.float16ToFloat(s.get(Bytes.LE_SHORT, bo)) * FACTOR;
    }

    @Override
    void makeRandomBlockValid(MemorySegment s, long bo, SplittableRandom rnd) {
        s.set(Bytes.LE_SHORT, bo, SMALL_SCALE);
    }
}
