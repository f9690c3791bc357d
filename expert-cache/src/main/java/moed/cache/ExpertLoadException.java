package moed.cache;

/**
 * An expert could not be read from its backing (an I/O error, a file cut short): says which expert of which layer,
 * from which file, and why. The cache stays usable: the expert's slot is free again and a later acquire retries.
 */
public final class ExpertLoadException extends RuntimeException {
    private final int layer;
    private final int expert;

    public ExpertLoadException(int layer, int expert, String source, Throwable cause) {
        super("cannot load expert " + expert + " of layer " + layer + " from " + source + ": " + reason(cause), cause);
        this.layer = layer;
        this.expert = expert;
    }

    private static String reason(Throwable cause) {
        return cause.getMessage() != null ? cause.getMessage() : cause.toString();
    }

    public int layer() {
        return layer;
    }

    public int expert() {
        return expert;
    }
}
