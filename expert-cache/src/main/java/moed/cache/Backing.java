package moed.cache;

import java.io.IOException;
import java.nio.file.Path;

/** Where a missed expert is read from. {@link #toString()} is the name settings and reports use. */
public enum Backing {
    /** The mapped file, through the page cache. */
    MMAP("mmap"),
    /** O_DIRECT reads of the file into the cache's own memory, bypassing the page cache. */
    DIRECT("direct");

    private final String label;

    Backing(String label) {
        this.label = label;
    }

    /** Opens this backing over the GGUF file whose experts {@code layout} describes. */
    public BackingStore open(Path file, ExpertLayout layout) throws IOException {
        return switch (this) {
            case MMAP -> new MappedBackingStore(file);
            case DIRECT -> new DirectBackingStore(file, layout);
        };
    }

    @Override
    public String toString() {
        return label;
    }
}
