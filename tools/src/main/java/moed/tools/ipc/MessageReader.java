package moed.tools.ipc;

import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.agrona.DirectBuffer;

/**
 * Reads one message payload, checking every field against the payload's length: a truncated or garbled message
 * raises {@link MalformedMessageException} naming what is wrong, never an out-of-bounds read.
 */
public final class MessageReader {
    private DirectBuffer buffer;
    private int start;
    private int end;
    private int pos;
    private long clientId;
    private long requestId;

    /** Wraps a payload and reads its header; the version must be ours. */
    public MessageReader wrap(DirectBuffer buffer, int offset, int length) {
        this.buffer = buffer;
        this.start = offset;
        this.end = offset + length;
        this.pos = offset;
        clientId = 0;
        requestId = 0;
        if (length < Protocol.HEADER_LENGTH) {
            throw new MalformedMessageException("message of " + length + " bytes is shorter than the " + Protocol.HEADER_LENGTH
                    + "-byte header");
        }
        short version = buffer.getShort(offset, ByteOrder.LITTLE_ENDIAN);
        clientId = buffer.getLong(offset + 4, ByteOrder.LITTLE_ENDIAN);
        requestId = buffer.getLong(offset + 12, ByteOrder.LITTLE_ENDIAN);
        pos = offset + Protocol.HEADER_LENGTH;
        if (version != Protocol.VERSION) {
            throw new MalformedMessageException("protocol version " + version + " is not supported (this server speaks "
                    + Protocol.VERSION + ")");
        }
        return this;
    }

    public long clientId() {
        return clientId;
    }

    public long requestId() {
        return requestId;
    }

    private void need(int n, String what) {
        if (n < 0 || pos + n > end) {
            throw new MalformedMessageException("truncated message: " + what + " needs " + n + " bytes at offset " + (pos - start)
                    + " of a " + (end - start) + "-byte message");
        }
    }

    public int getInt(String what) {
        need(4, what);
        int v = buffer.getInt(pos, ByteOrder.LITTLE_ENDIAN);
        pos += 4;
        return v;
    }

    public short getShort(String what) {
        need(2, what);
        short v = buffer.getShort(pos, ByteOrder.LITTLE_ENDIAN);
        pos += 2;
        return v;
    }

    public long getLong(String what) {
        need(8, what);
        long v = buffer.getLong(pos, ByteOrder.LITTLE_ENDIAN);
        pos += 8;
        return v;
    }

    public float getFloat(String what) {
        need(4, what);
        float v = buffer.getFloat(pos, ByteOrder.LITTLE_ENDIAN);
        pos += 4;
        return v;
    }

    public byte[] getBytes(String what) {
        int n = getInt(what + " length");
        if (n < 0) {
            throw new MalformedMessageException(what + " has a negative length " + n);
        }
        need(n, what);
        byte[] b = new byte[n];
        buffer.getBytes(pos, b);
        pos += n;
        return b;
    }

    public String getString(String what) {
        return new String(getBytes(what), StandardCharsets.UTF_8);
    }
}
