package moed.runtime.gguf;

import java.nio.file.Path;

/** A GGUF file that moed cannot read, with where and why: the file, the byte offset, and what was wrong. */
public final class GgufFormatException extends RuntimeException {
    private final transient Path file;
    private final long offset;

    public GgufFormatException(Path file, long offset, String problem) {
        super(file + " at byte " + offset + ": " + problem);
        this.file = file;
        this.offset = offset;
    }

    public Path file() {
        return file;
    }

    public long offset() {
        return offset;
    }
}
