package moed.cache;

/**
 * One expert of one layer packed in an int (layer in the high 16 bits), so keys go into primitive
 * collections and arrays without boxing.
 */
public final class ExpertKey {
    private ExpertKey() {
    }

    public static int of(int layer, int expert) {
        if (layer < 0 || layer > 0xFFFF || expert < 0 || expert > 0xFFFF) {
            throw new IllegalArgumentException("layer " + layer + " / expert " + expert + " out of range");
        }
        return (layer << 16) | expert;
    }

    public static int layer(int key) {
        return key >>> 16;
    }

    public static int expert(int key) {
        return key & 0xFFFF;
    }

    public static String toString(int key) {
        return "L" + layer(key) + "/E" + expert(key);
    }
}
