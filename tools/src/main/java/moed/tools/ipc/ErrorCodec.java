package moed.tools.ipc;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * {@link Protocol#ERROR}, server to client: a request failed, or a message was refused (its request id, 0 where
 * none applies). Layout after the header, the strings in this order:
 * <pre>
 *   20 string code (machine readable: bad_message, bad_request, shutdown, internal, ...)
 *   .. string message (for a person)
 * </pre>
 * This layout, like the header's, is the same in every protocol version: a server answers a client of another
 * version in that client's own version, so that the client can read why it was refused.
 */
public final class ErrorCodec extends MessageCodec {
    @Override
    public int type() {
        return Protocol.ERROR;
    }

    @Override
    protected int blockLength() {
        return HEADER_LENGTH;
    }

    public ErrorCodec wrapForEncode(MutableDirectBuffer buffer, int offset, long clientId, long requestId) {
        encodeHeader(buffer, offset, clientId, requestId);
        return this;
    }

    /** An error to a sender of another protocol version, in that version's header (see the class comment). */
    public ErrorCodec wrapForEncode(MutableDirectBuffer buffer, int offset, long clientId, long requestId, short version) {
        encodeHeader(buffer, offset, clientId, requestId, version);
        return this;
    }

    public ErrorCodec wrapForDecode(DirectBuffer buffer, int offset, int length) {
        decodeHeader(buffer, offset, length);
        return this;
    }

    /** First. */
    public ErrorCodec code(CharSequence code) {
        appendString(code);
        return this;
    }

    /** First. */
    public String code() {
        return nextString("code");
    }

    /** After the code. */
    public ErrorCodec message(CharSequence message) {
        appendString(message);
        return this;
    }

    /** After the code. */
    public String message() {
        return nextString("message");
    }
}
