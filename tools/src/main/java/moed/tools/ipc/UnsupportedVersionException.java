package moed.tools.ipc;

/** A message whose header names another protocol version: malformed to us, but its sender and version are known. */
public final class UnsupportedVersionException extends MalformedMessageException {
    private final short version;

    public UnsupportedVersionException(short version) {
        super("protocol version " + version + " is not supported (this server speaks " + Protocol.VERSION + ")");
        this.version = version;
    }

    /** The version the sender speaks. */
    public short version() {
        return version;
    }
}
