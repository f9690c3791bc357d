package moed.tools.ipc;

import java.nio.ByteOrder;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.ringbuffer.RingBuffer;

/**
 * What every message codec shares: the header, the byte order and field access checked against the message's
 * length. A codec is a flyweight, as Aeron's and SBE's are: it wraps a buffer at an offset and reads or writes the
 * fields in place, allocating nothing; each subclass holds one message kind's layout, so the field order exists in
 * one place for the client and the server alike. Not thread safe: one instance per thread.
 *
 * <p>Every payload starts with the same 20-byte header, little-endian (the message's type id travels in the ring's
 * own record header, see {@link #writeTo}):
 * <pre>
 *   0  short  version ({@link Protocol#VERSION})
 *   2  short  reserved (0)
 *   4  long   client id (chosen by the client at random; names its reply ring)
 *   12 long   request id (chosen by the client, unique per client; 0 where none applies)
 * </pre>
 * Fixed-size fields follow at constant offsets. Variable-length fields come after them and are read and written in
 * layout order (as SBE's var data is), each at the codec's limit, which then moves past it: a string is an int byte
 * length followed by that many UTF-8 bytes. Decoding refuses, with {@link MalformedMessageException} naming the
 * field, anything that does not fit the message's length: a truncated or garbled message is never an out-of-bounds
 * read.
 */
public abstract class MessageCodec {
    static final ByteOrder ORDER = ByteOrder.LITTLE_ENDIAN;

    private static final int VERSION_OFFSET = 0;
    private static final int RESERVED_OFFSET = 2;
    private static final int CLIENT_ID_OFFSET = 4;
    private static final int REQUEST_ID_OFFSET = 12;
    public static final int HEADER_LENGTH = 20;

    private DirectBuffer buffer;
    private MutableDirectBuffer mutableBuffer;
    private int offset;
    /** Decoding: the message's length, which every read is checked against; encoding: unbounded. */
    private int length;
    /** Where the next variable-length field starts, relative to the offset; once encoded, the message's length. */
    private int limit;
    private long clientId;
    private long requestId;

    /** The ring's type id of the message this codec holds (one of {@link Protocol}'s). */
    public abstract int type();

    /** The header and the fixed-size fields: where the variable-length fields start. */
    protected abstract int blockLength();

    /** Starts a message at {@code offset} with the header; the buffer must grow or be large enough. */
    protected final void encodeHeader(MutableDirectBuffer buffer, int offset, long clientId, long requestId) {
        encodeHeader(buffer, offset, clientId, requestId, Protocol.VERSION);
    }

    /** Starts a message in another protocol version's header (only for what every version lays out alike). */
    protected final void encodeHeader(MutableDirectBuffer buffer, int offset, long clientId, long requestId, short version) {
        this.buffer = buffer;
        this.mutableBuffer = buffer;
        this.offset = offset;
        this.length = Integer.MAX_VALUE;
        this.clientId = clientId;
        this.requestId = requestId;
        buffer.putShort(offset + VERSION_OFFSET, version, ORDER);
        buffer.putShort(offset + RESERVED_OFFSET, (short) 0, ORDER);
        buffer.putLong(offset + CLIENT_ID_OFFSET, clientId, ORDER);
        buffer.putLong(offset + REQUEST_ID_OFFSET, requestId, ORDER);
        limit = blockLength();
    }

    /**
     * Wraps a received message and checks its header: it must be whole and of our version. The ids are known even
     * when the version is refused ({@link UnsupportedVersionException}), so that the sender can be told.
     */
    protected final void decodeHeader(DirectBuffer buffer, int offset, int length) {
        this.buffer = buffer;
        this.mutableBuffer = null;
        this.offset = offset;
        this.length = length;
        this.limit = blockLength();
        clientId = 0;
        requestId = 0;
        if (length < HEADER_LENGTH) {
            throw new MalformedMessageException("message of " + length + " bytes is shorter than the " + HEADER_LENGTH
                    + "-byte header");
        }
        short version = buffer.getShort(offset + VERSION_OFFSET, ORDER);
        clientId = buffer.getLong(offset + CLIENT_ID_OFFSET, ORDER);
        requestId = buffer.getLong(offset + REQUEST_ID_OFFSET, ORDER);
        if (version != Protocol.VERSION) {
            throw new UnsupportedVersionException(version);
        }
    }

    public final long clientId() {
        return clientId;
    }

    public final long requestId() {
        return requestId;
    }

    public final DirectBuffer buffer() {
        return buffer;
    }

    public final int offset() {
        return offset;
    }

    /** The length of the message encoded so far. */
    public final int encodedLength() {
        return limit;
    }

    /** Writes the encoded message into a ring, with its type id; false when the ring is full. */
    public final boolean writeTo(RingBuffer ring) {
        return ring.write(type(), buffer, offset, limit);
    }

    protected final int limit() {
        return limit;
    }

    protected final void limit(int limit) {
        this.limit = limit;
    }

    // Decoding. `at` is relative to the message's start; `what` names the field in the error.

    private void need(int at, int bytes, String what) {
        // Written so that a huge length cannot overflow past the check.
        if (bytes < 0 || bytes > length - at) {
            throw new MalformedMessageException("truncated message: " + what + " needs " + bytes + " bytes at offset " + at
                    + " of a " + length + "-byte message");
        }
    }

    protected final short getShort(int at, String what) {
        need(at, Short.BYTES, what);
        return buffer.getShort(offset + at, ORDER);
    }

    protected final int getInt(int at, String what) {
        need(at, Integer.BYTES, what);
        return buffer.getInt(offset + at, ORDER);
    }

    protected final long getLong(int at, String what) {
        need(at, Long.BYTES, what);
        return buffer.getLong(offset + at, ORDER);
    }

    protected final float getFloat(int at, String what) {
        need(at, Float.BYTES, what);
        return buffer.getFloat(offset + at, ORDER);
    }

    /** The byte length of the variable-length field at the limit, checked to fit the message. */
    private int varLength(String what) {
        int n = getInt(limit, what + " length");
        if (n < 0) {
            throw new MalformedMessageException(what + " has a negative length " + n);
        }
        need(limit + Integer.BYTES, n, what);
        return n;
    }

    /** The string at the limit (allocates: strings are decoded off the hot path, or handed on as strings anyway). */
    protected final String nextString(String what) {
        int n = varLength(what);
        String s = buffer.getStringWithoutLengthUtf8(offset + limit + Integer.BYTES, n);
        limit += Integer.BYTES + n;
        return s;
    }

    /** The bytes at the limit, copied out. */
    protected final byte[] nextBytes(String what) {
        int n = varLength(what);
        byte[] b = new byte[n];
        buffer.getBytes(offset + limit + Integer.BYTES, b);
        limit += Integer.BYTES + n;
        return b;
    }

    // Encoding.

    protected final void putShort(int at, short v) {
        mutableBuffer.putShort(offset + at, v, ORDER);
    }

    protected final void putInt(int at, int v) {
        mutableBuffer.putInt(offset + at, v, ORDER);
    }

    protected final void putLong(int at, long v) {
        mutableBuffer.putLong(offset + at, v, ORDER);
    }

    protected final void putFloat(int at, float v) {
        mutableBuffer.putFloat(offset + at, v, ORDER);
    }

    /** Appends a string at the limit without allocating (Agrona's putStringUtf8 would make a byte array first). */
    protected final void appendString(CharSequence s) {
        int n = Utf8.encode(s, mutableBuffer, offset + limit + Integer.BYTES);
        mutableBuffer.putInt(offset + limit, n, ORDER);
        limit += Integer.BYTES + n;
    }

    protected final void appendBytes(byte[] b, int from, int count) {
        mutableBuffer.putInt(offset + limit, count, ORDER);
        mutableBuffer.putBytes(offset + limit + Integer.BYTES, b, from, count);
        limit += Integer.BYTES + count;
    }
}
