package moed.runtime.chat;

/** A template that cannot be parsed or rendered: says what and where (an offset into the template, or -1). */
public final class JinjaException extends RuntimeException {
    private final int offset;

    public JinjaException(String message, int offset) {
        super(offset >= 0 ? message + " (at character " + offset + " of the chat template)" : message);
        this.offset = offset;
    }

    public int offset() {
        return offset;
    }
}
