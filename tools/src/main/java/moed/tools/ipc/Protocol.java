package moed.tools.ipc;

/**
 * moed's IPC protocol, version 2: the message kinds, their type ids and the limits. Every message travels in an
 * Agrona ring buffer as (type id, payload). The layout of each kind has one home, its codec, which the client and
 * the server both use; {@link MessageCodec} holds the header every payload starts with (version, client id,
 * request id) and the rules for fields and strings. Client to server (the request ring, many writers):
 * <ul>
 *   <li>{@link #HELLO}: {@link HelloCodec}.</li>
 *   <li>{@link #SUBMIT}: {@link SubmitCodec}; the prompt is text or a conversation ({@link ConversationCodec}), and
 *   a long one comes in chunks of {@link #MAX_CHUNK_BYTES}.</li>
 *   <li>{@link #CANCEL}, {@link #BYE}, {@link #STATUS_REQUEST}: the header alone, {@link HeaderOnlyCodec}.</li>
 * </ul>
 * Server to client (the client's reply ring):
 * <ul>
 *   <li>{@link #WELCOME}: {@link WelcomeCodec}.</li>
 *   <li>{@link #TOKEN}: {@link TokenCodec}.</li>
 *   <li>{@link #DONE}: {@link DoneCodec}.</li>
 *   <li>{@link #ERROR}: {@link ErrorCodec}.</li>
 *   <li>{@link #STATUS}: {@link StatusCodec}.</li>
 * </ul>
 * A change to any layout changes {@link #VERSION}: a message of another version is refused as malformed. Version 2
 * added SUBMIT's prompt format (conversations). The header's layout, ERROR's, and the ids of HELLO and ERROR never
 * change, so that a HELLO of another version can be answered with an ERROR its sender reads (in the sender's
 * version; see MoedServer).
 * Heartbeats both ways use the rings' consumer heartbeat fields (Agrona's own): the server stamps the request
 * ring's, each client its reply ring's, every {@link #HEARTBEAT_MILLIS}; a side whose peer's stamp is older than
 * the timeout considers the peer gone.
 */
public final class Protocol {
    private Protocol() {
    }

    public static final short VERSION = 2;

    public static final int HELLO = 1;
    public static final int SUBMIT = 2;
    public static final int CANCEL = 3;
    public static final int BYE = 4;
    public static final int STATUS_REQUEST = 5;

    public static final int WELCOME = 11;
    public static final int TOKEN = 12;
    public static final int DONE = 13;
    public static final int ERROR = 14;
    public static final int STATUS = 15;

    public static final long HEARTBEAT_MILLIS = 200;
    public static final long DEFAULT_TIMEOUT_MILLIS = 5000;

    /** Ring sizes (data part; a power of two). */
    public static final int REQUEST_RING_BYTES = 1 << 20;
    public static final int REPLY_RING_BYTES = 1 << 20;
    /** The longest prompt chunk a SUBMIT carries; longer prompts are chunked. */
    public static final int MAX_CHUNK_BYTES = 32 * 1024;
    /** The longest prompt a server accepts (reassembled: a conversation's whole encoding), before tokenizing. */
    public static final int MAX_PROMPT_BYTES = 4 << 20;
    /**
     * How many prompts of one client may be arriving in chunks at once; each waits at most the server's client
     * timeout for its last chunk. Together they bound what a client can make the server hold.
     */
    public static final int MAX_PROMPTS_ARRIVING = 8;

    public static String typeName(int type) {
        return switch (type) {
            case HELLO -> "hello";
            case SUBMIT -> "submit";
            case CANCEL -> "cancel";
            case BYE -> "bye";
            case STATUS_REQUEST -> "status-request";
            case WELCOME -> "welcome";
            case TOKEN -> "token";
            case DONE -> "done";
            case ERROR -> "error";
            case STATUS -> "status";
            default -> "unknown(" + type + ")";
        };
    }
}
