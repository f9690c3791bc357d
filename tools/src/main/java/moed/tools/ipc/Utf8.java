package moed.tools.ipc;

import org.agrona.MutableDirectBuffer;

/**
 * UTF-8 encoding straight into a buffer, so that streaming a token's piece allocates nothing. The bytes are those
 * of {@code String.getBytes(UTF_8)}, including its replacement of an unpaired surrogate by {@code '?'}.
 */
final class Utf8 {
    private Utf8() {
    }

    /** Writes {@code s} at {@code index} (the buffer must grow or be large enough); returns the byte count. */
    static int encode(CharSequence s, MutableDirectBuffer buffer, int index) {
        int at = index;
        for (int i = 0, n = s.length(); i < n; i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                buffer.putByte(at++, (byte) c);
            } else if (c < 0x800) {
                buffer.putByte(at++, (byte) (0xC0 | c >> 6));
                buffer.putByte(at++, (byte) (0x80 | c & 0x3F));
            } else if (!Character.isSurrogate(c)) {
                buffer.putByte(at++, (byte) (0xE0 | c >> 12));
                buffer.putByte(at++, (byte) (0x80 | c >> 6 & 0x3F));
                buffer.putByte(at++, (byte) (0x80 | c & 0x3F));
            } else if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
                int cp = Character.toCodePoint(c, s.charAt(++i));
                buffer.putByte(at++, (byte) (0xF0 | cp >> 18));
                buffer.putByte(at++, (byte) (0x80 | cp >> 12 & 0x3F));
                buffer.putByte(at++, (byte) (0x80 | cp >> 6 & 0x3F));
                buffer.putByte(at++, (byte) (0x80 | cp & 0x3F));
            } else {
                buffer.putByte(at++, (byte) '?');
            }
        }
        return at - index;
    }
}
