package moed.tools.ipc;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * {@link Protocol#WELCOME}, server to client: the answer to a {@link HelloCodec HELLO}. Layout after the header:
 * <pre>
 *   20 long   server instance id (a client notices a restarted server by it)
 *   28 string model (the model file's name)
 * </pre>
 */
public final class WelcomeCodec extends MessageCodec {
    private static final int INSTANCE_OFFSET = HEADER_LENGTH;
    private static final int BLOCK_LENGTH = INSTANCE_OFFSET + Long.BYTES;

    @Override
    public int type() {
        return Protocol.WELCOME;
    }

    @Override
    protected int blockLength() {
        return BLOCK_LENGTH;
    }

    public WelcomeCodec wrapForEncode(MutableDirectBuffer buffer, int offset, long clientId) {
        encodeHeader(buffer, offset, clientId, 0);
        return this;
    }

    public WelcomeCodec wrapForDecode(DirectBuffer buffer, int offset, int length) {
        decodeHeader(buffer, offset, length);
        return this;
    }

    public WelcomeCodec instance(long instanceId) {
        putLong(INSTANCE_OFFSET, instanceId);
        return this;
    }

    public long instance() {
        return getLong(INSTANCE_OFFSET, "instance");
    }

    public WelcomeCodec model(CharSequence model) {
        appendString(model);
        return this;
    }

    public String model() {
        return nextString("model");
    }
}
