package moed.runtime;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Notices the model file shrinking under a running engine. The weights are mapped: a page past the new end of a
 * truncated file faults (SIGBUS) when read, which the JVM may not survive. So each step first asks the file's own
 * inode (through a channel opened with the mapping, so a file replaced by a new one under the same name is not a
 * change: the mapping keeps the old one alive) whether it still has every byte mapped, and refuses to run if not.
 * One fstat a step.
 */
final class ModelFileWatch implements AutoCloseable {
    private final Path path;
    private final FileChannel channel;
    private final long size;

    ModelFileWatch(Path path) throws IOException {
        this.path = path;
        this.channel = FileChannel.open(path, StandardOpenOption.READ);
        this.size = channel.size();
    }

    /** Throws if the file no longer holds every byte it held when the model was opened. */
    void check() {
        long now;
        try {
            now = channel.size();
        } catch (IOException e) {
            throw new UncheckedIOException("the model file " + path + " cannot be checked: " + e.getMessage(), e);
        }
        if (now < size) {
            throw new IllegalStateException("the model file " + path + " shrank from " + size + " to " + now
                    + " bytes while in use (truncated or rewritten in place); restart with the complete file");
        }
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            // Nothing was written through it; closing a read-only channel that fails leaves nothing to undo.
        }
    }
}
