package moed.tools.ipc;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * {@link Protocol#STATUS}, server to client: the answer to a STATUS_REQUEST, with its request id. Layout after the
 * header:
 * <pre>
 *   20 string the server's status as JSON
 * </pre>
 */
public final class StatusCodec extends MessageCodec {
    @Override
    public int type() {
        return Protocol.STATUS;
    }

    @Override
    protected int blockLength() {
        return HEADER_LENGTH;
    }

    public StatusCodec wrapForEncode(MutableDirectBuffer buffer, int offset, long clientId, long requestId) {
        encodeHeader(buffer, offset, clientId, requestId);
        return this;
    }

    public StatusCodec wrapForDecode(DirectBuffer buffer, int offset, int length) {
        decodeHeader(buffer, offset, length);
        return this;
    }

    public StatusCodec json(CharSequence json) {
        appendString(json);
        return this;
    }

    public String json() {
        return nextString("status");
    }
}
