package moed.tools.ipc;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * {@link Protocol#HELLO}, client to server: a client introduces itself. Its reply ring {@code client-<id>.ring} must
 * exist before. Layout after the header:
 * <pre>
 *   20 int    the client's pid
 * </pre>
 */
public final class HelloCodec extends MessageCodec {
    private static final int PID_OFFSET = HEADER_LENGTH;
    private static final int BLOCK_LENGTH = PID_OFFSET + Integer.BYTES;

    @Override
    public int type() {
        return Protocol.HELLO;
    }

    @Override
    protected int blockLength() {
        return BLOCK_LENGTH;
    }

    public HelloCodec wrapForEncode(MutableDirectBuffer buffer, int offset, long clientId) {
        encodeHeader(buffer, offset, clientId, 0);
        return this;
    }

    public HelloCodec wrapForDecode(DirectBuffer buffer, int offset, int length) {
        decodeHeader(buffer, offset, length);
        return this;
    }

    public HelloCodec pid(int pid) {
        putInt(PID_OFFSET, pid);
        return this;
    }

    public int pid() {
        return getInt(PID_OFFSET, "pid");
    }
}
