package moed.jfr;

/**
 * JFR fields cannot hold arrays, and a String per router decision would allocate on the hot path, so expert ids are
 * packed 16 bits each into longs (4 a long), and weights as IEEE halves (4 a long). A router decision event carries
 * {@link #PER_EVENT} of each; larger decisions take several events (see {@link Events.RouterDecision}).
 */
public final class Packing {
    /** Experts (and weights) one router decision event carries. */
    public static final int PER_EVENT = 8;

    private Packing() {
    }

    /** Ids [from, from + 4) of the array as 16-bit fields of a long (0xFFFF marks "none"). */
    public static long ids(int[] ids, int k, int from) {
        long v = -1L;
        for (int i = 0; i < 4 && from + i < k; i++) {
            v &= ~(0xFFFFL << (16 * i));
            v |= (long) (ids[from + i] & 0xFFFF) << (16 * i);
        }
        return v;
    }

    public static long halves(float[] w, int k, int from) {
        long v = 0;
        for (int i = 0; i < 4 && from + i < k; i++) {
            v |= (long) (Float.floatToFloat16(w[from + i]) & 0xFFFF) << (16 * i);
        }
        return v;
    }

    /** Unpacks the first k ids of up to four packed longs (4 ids each). */
    public static int[] unpackIds(int k, long... packed) {
        int[] r = new int[Math.min(k, 4 * packed.length)];
        for (int i = 0; i < r.length; i++) {
            r[i] = (int) ((packed[i / 4] >>> (16 * (i % 4))) & 0xFFFF);
        }
        return r;
    }

    public static float[] unpackHalves(long lo, long hi, int k) {
        float[] r = new float[k];
        for (int i = 0; i < k; i++) {
            long v = i < 4 ? lo : hi;
            r[i] = Float.float16ToFloat((short) ((v >>> (16 * (i % 4))) & 0xFFFF));
        }
        return r;
    }
}
