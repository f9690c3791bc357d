package moed.tools.ipc;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * {@link Protocol#TOKEN}, server to client: one generated token, streamed as it comes (the hot path: encoding
 * allocates nothing). Layout after the header:
 * <pre>
 *   20 int    token id (-1 for trailing text with no token)
 *   24 string piece (the text the token adds)
 * </pre>
 */
public final class TokenCodec extends MessageCodec {
    private static final int TOKEN_ID_OFFSET = HEADER_LENGTH;
    private static final int BLOCK_LENGTH = TOKEN_ID_OFFSET + Integer.BYTES;

    @Override
    public int type() {
        return Protocol.TOKEN;
    }

    @Override
    protected int blockLength() {
        return BLOCK_LENGTH;
    }

    public TokenCodec wrapForEncode(MutableDirectBuffer buffer, int offset, long clientId, long requestId) {
        encodeHeader(buffer, offset, clientId, requestId);
        return this;
    }

    public TokenCodec wrapForDecode(DirectBuffer buffer, int offset, int length) {
        decodeHeader(buffer, offset, length);
        return this;
    }

    public TokenCodec tokenId(int tokenId) {
        putInt(TOKEN_ID_OFFSET, tokenId);
        return this;
    }

    public int tokenId() {
        return getInt(TOKEN_ID_OFFSET, "token");
    }

    public TokenCodec piece(CharSequence piece) {
        appendString(piece);
        return this;
    }

    public String piece() {
        return nextString("piece");
    }
}
