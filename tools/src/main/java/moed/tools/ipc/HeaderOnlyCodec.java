package moed.tools.ipc;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * The messages that are their header alone, client to server: {@link Protocol#CANCEL} (the request named by the
 * request id), {@link Protocol#BYE} (the client leaves; the server cancels what is still running) and
 * {@link Protocol#STATUS_REQUEST} (answered by a {@link StatusCodec STATUS} with the same request id). The server
 * also reads every incoming message's header with one first, so that a message refused later can still be answered.
 */
public final class HeaderOnlyCodec extends MessageCodec {
    private int type;

    @Override
    public int type() {
        return type;
    }

    @Override
    protected int blockLength() {
        return HEADER_LENGTH;
    }

    /** Encodes a CANCEL, BYE or STATUS_REQUEST. */
    public HeaderOnlyCodec wrapForEncode(MutableDirectBuffer buffer, int offset, int type, long clientId, long requestId) {
        if (type != Protocol.CANCEL && type != Protocol.BYE && type != Protocol.STATUS_REQUEST) {
            throw new IllegalArgumentException("a " + Protocol.typeName(type) + " message is not just a header");
        }
        this.type = type;
        encodeHeader(buffer, offset, clientId, requestId);
        return this;
    }

    /** Decodes the header of a message of any type. */
    public HeaderOnlyCodec wrapForDecode(int type, DirectBuffer buffer, int offset, int length) {
        this.type = type;
        decodeHeader(buffer, offset, length);
        return this;
    }
}
