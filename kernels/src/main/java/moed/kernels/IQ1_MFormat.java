package moed.kernels;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * IQ1_M: block_iq1_m { uint8 qs[32]; uint8 qh[16]; uint8 scales[8]; } (1.75 bits per weight). Each 8 weights are an
 * 11-bit index into {@link IQGrids#IQ1S}: low 8 bits in qs, 3 high bits in a nibble of qh whose fourth bit is the
 * sign of their own shift; 3-bit scales s per 16 weights; the block's half d is spread over the top nibbles of the
 * four 16-bit scale words: w = d * (2s + 1) * (grid +- 1/8).
 */
final class IQ1_MFormat extends UnpackedFormat {
    IQ1_MFormat() {
        super(GgmlType.IQ1_M, 56);
    }

    /** The block's half, from the top nibble of each of the four 16-bit scale words. */
    private static float scale(MemorySegment s, long bo) {
        long sc = s.get(Bytes.LE_LONG, bo + 48);
        int bits = (int) ((sc >>> 12) & 0xF | (sc >>> 24) & 0xF0 | (sc >>> 36) & 0xF00 | (sc >>> 48) & 0xF000);
        return Float.float16ToFloat((short) bits);
    }

    /** The 3-bit scale of weights 16k..16k+16 (k = 2ib or 2ib + 1). */
    private static int subScale(MemorySegment s, long bo, int k) {
        int word = Bytes.u16(s, bo + 48 + 2L * (k / 4));
        return (word >>> (3 * (k % 4))) & 7;
    }

    @Override
    void dequantizeBlock(MemorySegment s, long bo, float[] y, int o) {
        float d = scale(s, bo);
        for (int ib = 0; ib < 8; ib++) {
            float dl1 = d * (2 * subScale(s, bo, 2 * ib) + 1);
            float dl2 = d * (2 * subScale(s, bo, 2 * ib + 1) + 1);
            for (int l = 0; l < 4; l++) {
                int h = Bytes.u8(s, bo + 32 + 2 * ib + l / 2) >>> (4 * (l % 2));
                long grid = IQGrids.IQ1S[Bytes.u8(s, bo + 4 * ib + l) | (h & 7) << 8];
                float delta = (h & 8) != 0 ? -IQ1_SFormat.DELTA : IQ1_SFormat.DELTA;
                float dl = l < 2 ? dl1 : dl2;
                for (int j = 0; j < 8; j++) {
                    y[o++] = dl * ((byte) (grid >>> (8 * j)) + delta);
                }
            }
        }
    }

    @Override
    float unpack(MemorySegment s, long bo, UnpackedBlock u) {
        long scales = s.get(Bytes.LE_LONG, bo + 48);
        for (int ib = 0; ib < 8; ib++) {
            int qs = s.get(Bytes.LE_INT, bo + 4L * ib);
            int qh = Bytes.u16(s, bo + 32 + 2L * ib);
            for (int l = 0; l < 4; l++) {
                int h = qh >>> (4 * l);
                long grid = IQGrids.IQ1S[(qs >>> (8 * l) & 0xFF) | (h & 7) << 8];
                u.put8(32 * ib + 8 * l, IQGrids.iq1Values(grid, (h & 8) != 0));
            }
            // Sub-blocks 2ib and 2ib + 1: three bits each at bit 6 * ib of the 64 bits (12 per scale word).
            int sub = (int) (scales >>> (16 * (ib / 2) + 6 * (ib % 2)));
            u.scale[2 * ib] = 2 * (sub & 7) + 1;
            u.scale[2 * ib + 1] = 2 * (sub >>> 3 & 7) + 1;
        }
        return scale(s, bo) * 0.125f;
    }

    @Override
    void makeRandomBlockValid(MemorySegment s, long bo, SplittableRandom rnd) {
        // The half 0.01 spread over the top nibbles of the scale words.
        int h = SMALL_SCALE & 0xFFFF;
        for (int k = 0; k < 4; k++) {
            long at = bo + 48 + 2L * k;
            int word = Bytes.u16(s, at) & 0x0FFF | ((h >>> (4 * k)) & 0xF) << 12;
            s.set(Bytes.LE_SHORT, at, (short) word);
        }
    }
}
