package moed.runtime.tokenizer;

import java.nio.charset.StandardCharsets;

/**
 * Turns a stream of token ids into text pieces without ever splitting a UTF-8 character: a byte-fallback
 * token may carry a third of a character, so bytes wait here until their character is complete. Invalid
 * sequences are released as U+FFFD rather than held forever.
 */
public final class StreamingDecoder {
    private final Tokenizer tokenizer;
    private final byte[] pending = new byte[8];
    private int pendingLength;

    public StreamingDecoder(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** The text completed by this token (possibly empty). */
    public String accept(int id) {
        byte[] b = tokenizer.pieceBytes(id);
        StringBuilder out = new StringBuilder();
        for (byte x : b) {
            if (pendingLength == pending.length) {
                flushInto(out);
            }
            pending[pendingLength++] = x;
            int complete = completePrefix();
            if (complete > 0) {
                out.append(new String(pending, 0, complete, StandardCharsets.UTF_8));
                System.arraycopy(pending, complete, pending, 0, pendingLength - complete);
                pendingLength -= complete;
            }
        }
        return out.toString();
    }

    /** Whatever is still held (an incomplete character at the end of generation), as replacement text. */
    public String finish() {
        StringBuilder out = new StringBuilder();
        flushInto(out);
        return out.toString();
    }

    private void flushInto(StringBuilder out) {
        if (pendingLength > 0) {
            out.append(new String(pending, 0, pendingLength, StandardCharsets.UTF_8));
            pendingLength = 0;
        }
    }

    /** Length of the longest prefix of pending bytes made of whole characters (or invalid bytes to release). */
    private int completePrefix() {
        int i = 0;
        while (i < pendingLength) {
            int b = pending[i] & 0xFF;
            int need = b < 0x80 ? 1 : (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : (b & 0xF8) == 0xF0 ? 4 : 1;
            if (i + need > pendingLength) {
                // Incomplete: wait, unless a byte that should continue the character does not.
                for (int j = i + 1; j < pendingLength; j++) {
                    if ((pending[j] & 0xC0) != 0x80) {
                        return j;
                    }
                }
                return i;
            }
            i += need;
        }
        return i;
    }
}
