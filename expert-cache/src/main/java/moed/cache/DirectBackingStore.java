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
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Experts read with O_DIRECT: straight from the device into an aligned staging buffer, bypassing the page cache,
 * so what is measured is the disk and what is cached is only what the resident tier holds. O_DIRECT needs the
 * file offset, the length and the buffer address aligned to the device block: each slice's enclosing aligned
 * span is read and the slice copied out. Thread safe: one staging buffer per reading thread.
 */
public final class DirectBackingStore implements BackingStore {
    private final Path file;
    private final FileChannel channel;
    private final long block;
    private final long maxSpan;
    private final ThreadLocal<MemorySegment> staging;
    private final Arena arena = Arena.ofShared();

    public DirectBackingStore(Path file, ExpertLayout layout) throws IOException {
        this.file = file;
        try {
            channel = FileChannel.open(file, StandardOpenOption.READ, ExtendedOpenOption.DIRECT);
        } catch (UnsupportedOperationException | IOException e) {
            throw new IOException("cannot open " + file + " with O_DIRECT (" + e.getMessage()
                    + "); the file system may not support direct I/O (tmpfs does not): use the mmap backing", e);
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

    /**
     * Each matrix's enclosing aligned span is read straight into the slot, so a load costs the device and no CPU copy
     * (a copy of every loaded byte would compete with the compute threads for the cores): the slot needs each
     * matrix's bytes plus up to two blocks of slack.
     */
    @Override
    public long slotBytes(ExpertLayout.Layer layer) {
        long need = 0;
        for (ExpertLayout.Stacked st : new ExpertLayout.Stacked[] {layer.gate(), layer.up(), layer.down()}) {
            need += (st.expertBytes() + 2 * block - 1) / block * block;
        }
        return need;
    }

    @Override
    public ExpertWeights load(ExpertLayout.Layer layer, int expert, MemorySegment dst) {
        return load(layer, expert, dst, read -> true);
    }

    /** Reads the three matrices one after the other; between them, {@code progress} may stop the load. */
    @Override
    public ExpertWeights load(ExpertLayout.Layer layer, int expert, MemorySegment dst, Progress progress) {
        if (dst.address() % block != 0) {
            read(layer, expert, dst);
            return layer.view(dst);
        }
        ExpertLayout.Stacked[] parts = {layer.gate(), layer.up(), layer.down()};
        MemorySegment[] views = new MemorySegment[3];
        long at = 0;
        for (int i = 0; i < 3; i++) {
            if (i > 0 && !progress.stillWanted(at)) {
                return null;
            }
            ExpertLayout.Stacked st = parts[i];
            long off = st.fileOffset(expert);
            long n = st.expertBytes();
            long start = off / block * block;
            long end = (off + n + block - 1) / block * block;
            readSpan(dst.asSlice(at, end - start), start, off, n);
            views[i] = dst.asSlice(at + off - start, n);
            at += end - start;
        }
        return new ExpertWeights(layer.gate().view(views[0]), layer.up().view(views[1]), layer.down().view(views[2]));
    }

    /**
     * Reads the aligned span starting at {@code start} into buf (aligned), checking that [off, off + n) arrived: a
     * file cut short under the model (an interrupted copy) reads short here rather than as garbage weights.
     */
    private void readSpan(MemorySegment buf, long start, long off, long n) {
        ByteBuffer bb = buf.asByteBuffer();
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
            throw new UncheckedIOException("direct read of " + n + " bytes at offset " + off + " failed: " + e.getMessage(), e);
        }
        long got = Math.max(0, bb.position() - (off - start));
        if (got < n) {
            String size;
            try {
                size = String.valueOf(channel.size());
            } catch (IOException e) {
                size = "?";
            }
            throw new UncheckedIOException(new IOException("short read at offset " + off + ": " + got + " of " + n
                    + " bytes, the file ends at " + size + " (truncated?)"));
        }
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
            readSpan(buf.asSlice(0, end - start), start, off, n);
            MemorySegment.copy(buf, off - start, dst, at, n);
            at += n;
        }
    }

    /**
     * Measures the disk as the loaders use it: {@code readers} threads (the loader count) each reading 4 MiB O_DIRECT
     * spans at random aligned offsets over the whole file, {@code maxBytes} in all, in GB/s. Random offsets over the
     * whole file, because experts come from anywhere in it, and because a virtual disk's host may cache what was
     * read recently: a fixed region (the file's first GiB, read by every measurement) then measures the host's
     * memory. Nothing is cached on the way in this process.
     */
    public static double measureReadGbps(Path file, long maxBytes, int readers) throws IOException {
        long span = 4L << 20;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, ExtendedOpenOption.DIRECT);
             Arena a = Arena.ofShared()) {
            long align = Math.max(4096, Files.getFileStore(file).getBlockSize());
            long spans = ch.size() / span;
            if (spans == 0) {
                return Double.NaN;
            }
            int n = Math.max(1, readers);
            long perReader = Math.max(1, maxBytes / span / n);
            AtomicLong read = new AtomicLong();
            AtomicReference<IOException> failure = new AtomicReference<>();
            Thread[] t = new Thread[n];
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                MemorySegment buf = a.allocate(span, align);
                SplittableRandom rnd = new SplittableRandom(System.nanoTime() + i);
                t[i] = Thread.ofPlatform().start(() -> {
                    try {
                        for (long j = 0; j < perReader; j++) {
                            long pos = rnd.nextLong(spans) * span;
                            ByteBuffer bb = buf.asByteBuffer();
                            while (bb.hasRemaining() && ch.read(bb, pos + bb.position()) > 0) {
                                // a short read (end of file) ends the span
                            }
                            read.addAndGet(bb.position());
                        }
                    } catch (IOException e) {
                        failure.compareAndSet(null, e);
                    }
                });
            }
            for (Thread x : t) {
                x.join();
            }
            if (failure.get() != null) {
                throw failure.get();
            }
            return read.get() / ((System.nanoTime() - t0) / 1e9) / 1e9;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while measuring the disk", e);
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

    @Override
    public String describe() {
        return file.toString();
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
