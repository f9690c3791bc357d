package moed.cache;

import com.sun.nio.file.ExtendedOpenOption;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Experts read with O_DIRECT: straight from the device into an aligned staging buffer, bypassing the page cache,
 * so what is measured is the disk and what is cached is only what the resident tier holds. O_DIRECT needs the
 * file offset, the length and the buffer address aligned to the device block: each slice's enclosing aligned
 * span is read and the slice copied out. Thread safe: one staging buffer per reading thread.
 */
public final class DirectBackingStore implements BackingStore {
    private final FileChannel channel;
    private final long block;
    private final long maxSpan;
    private final ThreadLocal<MemorySegment> staging;
    private final Arena arena = Arena.ofShared();

    public DirectBackingStore(Path file, ExpertLayout layout) throws IOException {
        try {
            channel = FileChannel.open(file, StandardOpenOption.READ, ExtendedOpenOption.DIRECT);
        } catch (UnsupportedOperationException | IOException e) {
            throw new IOException("cannot open " + file + " with O_DIRECT (" + e.getMessage()
                    + "); the file system may not support direct I/O (tmpfs does not): use --backing mmap", e);
        }
        block = Math.max(512, Files.getFileStore(file).getBlockSize());
        long span = 0;
        for (int l = 0; l < layout.layerCount(); l++) {
            if (layout.isMoe(l)) {
                ExpertLayout.Layer x = layout.layer(l);
                span = Math.max(span, Math.max(x.gate().expertBytes(), Math.max(x.up().expertBytes(), x.down().expertBytes())));
            }
        }
        maxSpan = span + 2 * block;
        staging = ThreadLocal.withInitial(() -> arena.allocate(maxSpan, block));
    }

    @Override
    public void read(ExpertLayout.Layer layer, int expert, MemorySegment dst) {
        MemorySegment buf = staging.get();
        long at = 0;
        for (ExpertLayout.Stacked s : new ExpertLayout.Stacked[] {layer.gate(), layer.up(), layer.down()}) {
            long off = s.fileOffset(expert);
            long n = s.expertBytes();
            long start = off / block * block;
            long end = (off + n + block - 1) / block * block;
            ByteBuffer bb = buf.asSlice(0, end - start).asByteBuffer();
            try {
                long pos = start;
                while (bb.hasRemaining()) {
                    int r = channel.read(bb, pos);
                    pos += Math.max(r, 0);
                    if (r <= 0 || pos % block != 0) {
                        // The last slice may end in the file's final partial block: the rest is past EOF.
                        break;
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException("direct read of " + n + " bytes at " + off + " failed", e);
            }
            if (bb.position() < off - start + n) {
                throw new UncheckedIOException(new IOException("short direct read at " + off + ": file truncated?"));
            }
            MemorySegment.copy(buf, off - start, dst, at, n);
            at += n;
        }
    }

    /**
     * Measures the disk: sequential O_DIRECT reads of 4 MiB blocks over up to {@code maxBytes} of the file, in GB/s.
     * Nothing is cached on the way, so the figure is the device's, not the page cache's.
     */
    public static double measureReadGbps(Path file, long maxBytes) throws IOException {
        long block = 4L << 20;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, ExtendedOpenOption.DIRECT);
             Arena a = Arena.ofConfined()) {
            long n = Math.min(maxBytes, ch.size()) / block * block;
            MemorySegment buf = a.allocate(block, Math.max(4096, Files.getFileStore(file).getBlockSize()));
            long t0 = System.nanoTime();
            for (long pos = 0; pos < n; pos += block) {
                ByteBuffer bb = buf.asByteBuffer();
                while (bb.hasRemaining()) {
                    if (ch.read(bb, pos + bb.position()) <= 0) {
                        break;
                    }
                }
            }
            return n / ((System.nanoTime() - t0) / 1e9) / 1e9;
        }
    }

    /** Device block size the reads are aligned to. */
    public long blockSize() {
        return block;
    }

    @Override
    public String name() {
        return "direct";
    }

    private boolean closed;

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing a read-only channel: nothing to lose
        }
        arena.close();
    }
}
