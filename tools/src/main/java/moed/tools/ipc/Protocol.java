package moed.tools.ipc;

/**
 * moed's IPC protocol, version 1. Every message travels in an Agrona ring buffer as (type id, payload); every
 * payload starts with the same 20-byte header, little-endian:
 * <pre>
 *   0  short  version (1)
 *   2  short  reserved (0)
 *   4  long   client id (chosen by the client at random; names its reply ring)
 *   12 long   request id (chosen by the client, unique per client; 0 where none applies)
 * </pre>
 * Strings are an int byte length followed by UTF-8 bytes. Client to server (the request ring, many writers):
 * <ul>
 *   <li>{@link #HELLO}: header, int pid. The reply ring {@code client-<id>.ring} must exist before.</li>
 *   <li>{@link #SUBMIT}: header, int max tokens, float temperature, int top-k, float top-p, float min-p, float
 *       repeat penalty, long seed, short chunk index, short chunk count, short stop count, stop strings (in chunk
 *       0 only), string prompt chunk. A prompt longer than one message is cut into chunks with the same request
 *       id; the request starts when the last chunk arrives.</li>
 *   <li>{@link #CANCEL}, {@link #BYE}, {@link #STATUS_REQUEST}: header only.</li>
 * </ul>
 * Server to client (the client's reply ring):
 * <ul>
 *   <li>{@link #WELCOME}: header, long server instance id, string model.</li>
 *   <li>{@link #TOKEN}: header, int token id (-1 for trailing text with no token), string piece.</li>
 *   <li>{@link #DONE}: header, string reason, int prompt tokens, int generated tokens, long prefill nanos,
 *       long decode nanos.</li>
 *   <li>{@link #ERROR}: header, string code, string message.</li>
 *   <li>{@link #STATUS}: header, string JSON.</li>
 * </ul>
 * Heartbeats both ways use the rings' consumer heartbeat fields (Agrona's own): the server stamps the request
 * ring's, each client its reply ring's, every {@link #HEARTBEAT_MILLIS}; a side whose peer's stamp is older than
 * the timeout considers the peer gone.
 */
public final class Protocol {
    private Protocol() {
    }

    public static final short VERSION = 1;
    public static final int HEADER_LENGTH = 20;

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
    /** The longest prompt a server accepts (reassembled), before tokenizing. */
    public static final int MAX_PROMPT_BYTES = 4 << 20;

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
