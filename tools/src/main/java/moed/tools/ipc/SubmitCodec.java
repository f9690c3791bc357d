package moed.tools.ipc;

import java.util.List;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * {@link Protocol#SUBMIT}, client to server: a prompt to answer, with its sampling and stopping. The prompt is plain
 * text ({@link #TEXT}) or a conversation ({@link #CONVERSATION}, encoded by {@link ConversationCodec}); either way
 * its bytes longer than {@link Protocol#MAX_CHUNK_BYTES} are cut into chunks, each its own SUBMIT with the same
 * request id and the same parameters; the request starts when the last chunk arrives, and a conversation is decoded
 * only then (a chunk may end anywhere in it). Layout after the header:
 * <pre>
 *   20 int    max tokens
 *   24 float  temperature
 *   28 int    top-k
 *   32 float  top-p
 *   36 float  min-p
 *   40 float  repeat penalty
 *   44 long   seed
 *   52 short  chunk index
 *   54 short  chunk count
 *   56 short  stop count (0 after chunk 0)
 *   58 short  prompt format ({@link #TEXT} or {@link #CONVERSATION})
 *   60 string stop strings, as many as the stop count
 *   .. bytes  the prompt chunk (int length, then bytes: UTF-8 text, or a piece of an encoded conversation; a chunk
 *             may end inside a character)
 * </pre>
 * The stop strings are written and read before the prompt chunk.
 */
public final class SubmitCodec extends MessageCodec {
    private static final int MAX_TOKENS_OFFSET = HEADER_LENGTH;
    private static final int TEMPERATURE_OFFSET = MAX_TOKENS_OFFSET + Integer.BYTES;
    private static final int TOP_K_OFFSET = TEMPERATURE_OFFSET + Float.BYTES;
    private static final int TOP_P_OFFSET = TOP_K_OFFSET + Integer.BYTES;
    private static final int MIN_P_OFFSET = TOP_P_OFFSET + Float.BYTES;
    private static final int REPEAT_PENALTY_OFFSET = MIN_P_OFFSET + Float.BYTES;
    private static final int SEED_OFFSET = REPEAT_PENALTY_OFFSET + Float.BYTES;
    private static final int CHUNK_INDEX_OFFSET = SEED_OFFSET + Long.BYTES;
    private static final int CHUNK_COUNT_OFFSET = CHUNK_INDEX_OFFSET + Short.BYTES;
    private static final int STOP_COUNT_OFFSET = CHUNK_COUNT_OFFSET + Short.BYTES;
    private static final int PROMPT_FORMAT_OFFSET = STOP_COUNT_OFFSET + Short.BYTES;
    private static final int BLOCK_LENGTH = PROMPT_FORMAT_OFFSET + Short.BYTES;

    /** The prompt's bytes are UTF-8 text to continue. */
    public static final short TEXT = 0;
    /** The prompt's bytes are a conversation ({@link ConversationCodec}) for the model's chat template. */
    public static final short CONVERSATION = 1;

    @Override
    public int type() {
        return Protocol.SUBMIT;
    }

    @Override
    protected int blockLength() {
        return BLOCK_LENGTH;
    }

    public SubmitCodec wrapForEncode(MutableDirectBuffer buffer, int offset, long clientId, long requestId) {
        encodeHeader(buffer, offset, clientId, requestId);
        return this;
    }

    public SubmitCodec wrapForDecode(DirectBuffer buffer, int offset, int length) {
        decodeHeader(buffer, offset, length);
        return this;
    }

    public SubmitCodec maxTokens(int maxTokens) {
        putInt(MAX_TOKENS_OFFSET, maxTokens);
        return this;
    }

    public int maxTokens() {
        return getInt(MAX_TOKENS_OFFSET, "max tokens");
    }

    public SubmitCodec temperature(float temperature) {
        putFloat(TEMPERATURE_OFFSET, temperature);
        return this;
    }

    public float temperature() {
        return getFloat(TEMPERATURE_OFFSET, "temperature");
    }

    public SubmitCodec topK(int topK) {
        putInt(TOP_K_OFFSET, topK);
        return this;
    }

    public int topK() {
        return getInt(TOP_K_OFFSET, "top-k");
    }

    public SubmitCodec topP(float topP) {
        putFloat(TOP_P_OFFSET, topP);
        return this;
    }

    public float topP() {
        return getFloat(TOP_P_OFFSET, "top-p");
    }

    public SubmitCodec minP(float minP) {
        putFloat(MIN_P_OFFSET, minP);
        return this;
    }

    public float minP() {
        return getFloat(MIN_P_OFFSET, "min-p");
    }

    public SubmitCodec repeatPenalty(float repeatPenalty) {
        putFloat(REPEAT_PENALTY_OFFSET, repeatPenalty);
        return this;
    }

    public float repeatPenalty() {
        return getFloat(REPEAT_PENALTY_OFFSET, "repeat penalty");
    }

    public SubmitCodec seed(long seed) {
        putLong(SEED_OFFSET, seed);
        return this;
    }

    public long seed() {
        return getLong(SEED_OFFSET, "seed");
    }

    /** Which chunk of the prompt this message carries, of how many. */
    public SubmitCodec chunk(int index, int count) {
        putShort(CHUNK_INDEX_OFFSET, (short) index);
        putShort(CHUNK_COUNT_OFFSET, (short) count);
        return this;
    }

    public int chunkIndex() {
        return getShort(CHUNK_INDEX_OFFSET, "chunk index");
    }

    public int chunkCount() {
        return getShort(CHUNK_COUNT_OFFSET, "chunk count");
    }

    /** What the prompt's bytes hold: {@link #TEXT} or {@link #CONVERSATION}. */
    public SubmitCodec promptFormat(short format) {
        putShort(PROMPT_FORMAT_OFFSET, format);
        return this;
    }

    public short promptFormat() {
        return getShort(PROMPT_FORMAT_OFFSET, "prompt format");
    }

    /** The stop count and the stop strings (chunk 0 carries them, later chunks none); before the prompt chunk. */
    public SubmitCodec stops(List<String> stops) {
        putShort(STOP_COUNT_OFFSET, (short) stops.size());
        for (String s : stops) {
            appendString(s);
        }
        return this;
    }

    /** How many stop strings follow; the server checks it before reading them. */
    public int stopCount() {
        return getShort(STOP_COUNT_OFFSET, "stop count");
    }

    /** The next stop string (call {@link #stopCount} times, before {@link #promptChunk()}). */
    public String nextStop() {
        return nextString("stop string");
    }

    /** The prompt chunk: {@code count} bytes of {@code text} from {@code from}; after the stops. */
    public SubmitCodec promptChunk(byte[] text, int from, int count) {
        appendBytes(text, from, count);
        return this;
    }

    /** The prompt chunk, after the stops. */
    public byte[] promptChunk() {
        return nextBytes("prompt");
    }
}
