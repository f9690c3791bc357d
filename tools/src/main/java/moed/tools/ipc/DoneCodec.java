package moed.tools.ipc;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * {@link Protocol#DONE}, server to client: a request ended. Layout after the header (version 1 put the reason
 * first, so the counts sit at offsets from its end, {@code r}):
 * <pre>
 *   20   string reason (length, stop, cancelled, ...)
 *   r    int    prompt tokens
 *   r+4  int    generated tokens
 *   r+8  long   prefill nanos
 *   r+16 long   decode nanos
 * </pre>
 * The reason is written and read first; the counts after it.
 */
public final class DoneCodec extends MessageCodec {
    private static final int PROMPT_TOKENS_AFTER_REASON = 0;
    private static final int GENERATED_TOKENS_AFTER_REASON = PROMPT_TOKENS_AFTER_REASON + Integer.BYTES;
    private static final int PREFILL_NANOS_AFTER_REASON = GENERATED_TOKENS_AFTER_REASON + Integer.BYTES;
    private static final int DECODE_NANOS_AFTER_REASON = PREFILL_NANOS_AFTER_REASON + Long.BYTES;
    private static final int COUNTS_LENGTH = DECODE_NANOS_AFTER_REASON + Long.BYTES;

    /** Where the reason ends (relative to the message's start): the counts' base. */
    private int reasonEnd;

    @Override
    public int type() {
        return Protocol.DONE;
    }

    @Override
    protected int blockLength() {
        return HEADER_LENGTH;
    }

    public DoneCodec wrapForEncode(MutableDirectBuffer buffer, int offset, long clientId, long requestId) {
        encodeHeader(buffer, offset, clientId, requestId);
        reasonEnd = -1;
        return this;
    }

    public DoneCodec wrapForDecode(DirectBuffer buffer, int offset, int length) {
        decodeHeader(buffer, offset, length);
        reasonEnd = -1;
        return this;
    }

    public DoneCodec reason(CharSequence reason) {
        appendString(reason);
        reasonEnd = limit();
        return this;
    }

    public String reason() {
        String reason = nextString("reason");
        reasonEnd = limit();
        return reason;
    }

    /** The counts, after the reason. */
    public DoneCodec counts(int promptTokens, int generatedTokens, long prefillNanos, long decodeNanos) {
        int at = counts();
        putInt(at + PROMPT_TOKENS_AFTER_REASON, promptTokens);
        putInt(at + GENERATED_TOKENS_AFTER_REASON, generatedTokens);
        putLong(at + PREFILL_NANOS_AFTER_REASON, prefillNanos);
        putLong(at + DECODE_NANOS_AFTER_REASON, decodeNanos);
        limit(at + COUNTS_LENGTH);
        return this;
    }

    public int promptTokens() {
        return getInt(counts() + PROMPT_TOKENS_AFTER_REASON, "prompt tokens");
    }

    public int generatedTokens() {
        return getInt(counts() + GENERATED_TOKENS_AFTER_REASON, "generated tokens");
    }

    public long prefillNanos() {
        return getLong(counts() + PREFILL_NANOS_AFTER_REASON, "prefill nanos");
    }

    public long decodeNanos() {
        return getLong(counts() + DECODE_NANOS_AFTER_REASON, "decode nanos");
    }

    private int counts() {
        if (reasonEnd < 0) {
            throw new IllegalStateException("a DONE's reason comes before its counts");
        }
        return reasonEnd;
    }
}
