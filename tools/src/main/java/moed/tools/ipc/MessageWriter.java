package moed.tools.ipc;

import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.MutableDirectBuffer;

/** Builds one message payload at a time into a reused buffer (no allocation once it has grown). */
public final class MessageWriter {
    private final MutableDirectBuffer buffer = new ExpandableArrayBuffer(256);
    private int length;

    /** Starts a message with the common header. */
    public MessageWriter begin(long clientId, long requestId) {
        length = 0;
        buffer.putShort(0, Protocol.VERSION, ByteOrder.LITTLE_ENDIAN);
        buffer.putShort(2, (short) 0, ByteOrder.LITTLE_ENDIAN);
        buffer.putLong(4, clientId, ByteOrder.LITTLE_ENDIAN);
        buffer.putLong(12, requestId, ByteOrder.LITTLE_ENDIAN);
        length = Protocol.HEADER_LENGTH;
        return this;
    }

    public MessageWriter putInt(int v) {
        buffer.putInt(length, v, ByteOrder.LITTLE_ENDIAN);
        length += 4;
        return this;
    }

    public MessageWriter putShort(int v) {
        buffer.putShort(length, (short) v, ByteOrder.LITTLE_ENDIAN);
        length += 2;
        return this;
    }

    public MessageWriter putLong(long v) {
        buffer.putLong(length, v, ByteOrder.LITTLE_ENDIAN);
        length += 8;
        return this;
    }

    public MessageWriter putFloat(float v) {
        buffer.putFloat(length, v, ByteOrder.LITTLE_ENDIAN);
        length += 4;
        return this;
    }

    public MessageWriter putString(String s) {
        return putBytes(s.getBytes(StandardCharsets.UTF_8));
    }

    public MessageWriter putBytes(byte[] b) {
        return putBytes(b, 0, b.length);
    }

    public MessageWriter putBytes(byte[] b, int off, int len) {
        putInt(len);
        buffer.putBytes(length, b, off, len);
        length += len;
        return this;
    }

    public MutableDirectBuffer buffer() {
        return buffer;
    }

    public int length() {
        return length;
    }
}
