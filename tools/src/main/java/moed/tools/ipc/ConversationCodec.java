package moed.tools.ipc;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import moed.runtime.chat.ChatTemplate;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The conversation a {@link SubmitCodec#CONVERSATION} SUBMIT carries. It travels as the prompt's bytes, chunked like
 * a text prompt, and is decoded once they are put back together:
 * <pre>
 *   int    message count (at least 1)
 *   then, per message:
 *   string role (system, user or assistant)
 *   string content (may be empty)
 * </pre>
 * Strings as everywhere in the protocol: an int byte length, then UTF-8 bytes; little-endian. Decoding refuses, with
 * {@link MalformedMessageException} naming the problem, a conversation that is truncated, has bytes after its last
 * message, no message, or a role other than those three. Cold path: once per request.
 */
final class ConversationCodec {
    /** How much of an unknown role an error quotes: the role is the client's text, of any length. */
    private static final int QUOTED_CHARS = 40;

    private ConversationCodec() {
    }

    /** The conversation's bytes. Roles are not checked here: the server is the one to refuse them. */
    static byte[] encode(List<ChatTemplate.Message> messages) {
        ExpandableArrayBuffer b = new ExpandableArrayBuffer(256);
        b.putInt(0, messages.size(), MessageCodec.ORDER);
        int at = Integer.BYTES;
        for (int i = 0; i < messages.size(); i++) {
            ChatTemplate.Message m = messages.get(i);
            if (m == null || m.role() == null || m.content() == null) {
                throw new IllegalArgumentException("message " + (i + 1) + " of the conversation has no role or no content"
                        + " (an empty content is \"\")");
            }
            at = put(b, at, m.role());
            at = put(b, at, m.content());
        }
        return Arrays.copyOf(b.byteArray(), at);
    }

    private static int put(ExpandableArrayBuffer b, int at, String s) {
        int n = Utf8.encode(s, b, at + Integer.BYTES);
        b.putInt(at, n, MessageCodec.ORDER);
        return at + Integer.BYTES + n;
    }

    /** The conversation in {@code bytes}, checked. */
    static List<ChatTemplate.Message> decode(byte[] bytes) {
        Reader r = new Reader(bytes);
        int count = r.nextInt("the message count");
        if (count < 1) {
            throw new MalformedMessageException("a conversation needs at least one message, this one has " + count);
        }
        // Each message takes at least its two lengths: a larger count is refused before a list is sized by it.
        if (count > r.remaining() / (2 * Integer.BYTES)) {
            throw new MalformedMessageException("truncated conversation: " + count + " messages cannot fit in its "
                    + bytes.length + " bytes");
        }
        List<ChatTemplate.Message> messages = new ArrayList<>(count);
        for (int i = 1; i <= count; i++) {
            String role = r.nextString("message " + i + "'s role");
            if (!ChatTemplate.ROLES.contains(role)) {
                throw new MalformedMessageException("message " + i + " has the unknown role " + quoted(role)
                        + ": a role is system, user or assistant");
            }
            messages.add(new ChatTemplate.Message(role, r.nextString("message " + i + "'s content")));
        }
        if (r.remaining() > 0) {
            throw new MalformedMessageException("the conversation has " + r.remaining() + " bytes after its last message");
        }
        return messages;
    }

    private static String quoted(String s) {
        return s.length() <= QUOTED_CHARS ? '"' + s + '"' : '"' + s.substring(0, QUOTED_CHARS) + "...\"";
    }

    /** Reads the fields in order, each checked to fit (as {@link MessageCodec} reads a message's). */
    private static final class Reader {
        private final byte[] bytes;
        private final UnsafeBuffer buffer;
        private int at;

        Reader(byte[] bytes) {
            this.bytes = bytes;
            this.buffer = new UnsafeBuffer(bytes);
        }

        int remaining() {
            return bytes.length - at;
        }

        private void need(int n, String what) {
            if (n > remaining()) {
                throw new MalformedMessageException("truncated conversation: " + what + " needs " + n + " bytes at offset "
                        + at + " of " + bytes.length);
            }
        }

        int nextInt(String what) {
            need(Integer.BYTES, what);
            int v = buffer.getInt(at, MessageCodec.ORDER);
            at += Integer.BYTES;
            return v;
        }

        String nextString(String what) {
            int n = nextInt(what + " length");
            if (n < 0) {
                throw new MalformedMessageException(what + " has a negative length " + n);
            }
            need(n, what);
            String s = new String(bytes, at, n, StandardCharsets.UTF_8);
            at += n;
            return s;
        }
    }
}
