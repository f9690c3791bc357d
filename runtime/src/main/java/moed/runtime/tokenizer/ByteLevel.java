package moed.runtime.tokenizer;

import java.io.ByteArrayOutputStream;

/**
 * GPT-2's byte-level alphabet: every byte is shown as one printable character, so BPE can work on text while
 * covering any byte sequence. Printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves; the
 * other 68 bytes (controls, space, soft hyphen ...) take the characters from U+0100 up, in byte order. A space
 * is therefore 'Ġ' (U+0120) and a newline 'Ċ' (U+010A) in vocabulary and merge texts.
 */
public final class ByteLevel {
    private static final char[] BYTE_TO_CHAR = new char[256];
    private static final int[] CHAR_TO_BYTE = new int[512];

    static {
        java.util.Arrays.fill(CHAR_TO_BYTE, -1);
        int next = 256;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char) b : (char) next++;
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE[c] = b;
        }
    }

    private ByteLevel() {
    }

    /** The character standing for this byte. */
    public static char charOf(int b) {
        return BYTE_TO_CHAR[b & 0xFF];
    }

    /** The text's UTF-8 bytes, each as its byte-level character. */
    public static String encode(byte[] utf8) {
        char[] out = new char[utf8.length];
        for (int i = 0; i < utf8.length; i++) {
            out[i] = BYTE_TO_CHAR[utf8[i] & 0xFF];
        }
        return new String(out);
    }

    /** The bytes a byte-level string stands for, or null if it holds a character outside the alphabet. */
    public static byte[] decode(String s) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            int b = c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
            if (b < 0) {
                return null;
            }
            out.write(b);
        }
        return out.toByteArray();
    }
}
