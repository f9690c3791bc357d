package moed.runtime.tokenizer;

/** Text hygiene before tokenizing. */
final class Utf8 {
    private Utf8() {
    }

    /**
     * The text with every unpaired surrogate replaced by U+FFFD, the character a UTF-8 decoder gives for bytes it
     * cannot decode. Without this, Java's encoder would turn them into '?', a different and misleading token.
     */
    static String wellFormed(String s) {
        StringBuilder b = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean paired = Character.isHighSurrogate(c) ? i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))
                    : !Character.isLowSurrogate(c) || (i > 0 && Character.isHighSurrogate(s.charAt(i - 1)));
            if (!paired) {
                if (b == null) {
                    b = new StringBuilder(s.length()).append(s, 0, i);
                }
                b.append('\uFFFD');
            } else if (b != null) {
                b.append(c);
            }
        }
        return b == null ? s : b.toString();
    }
}
