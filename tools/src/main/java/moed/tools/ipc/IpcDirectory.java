package moed.tools.ipc;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Properties;
import org.agrona.IoUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;

/**
 * The files of one IPC directory: {@code server.lock} (held by the serving process), {@code server.info} (pid,
 * instance id, model), {@code requests.ring} (clients to server) and one {@code client-<id>.ring} per client
 * (server to that client). Rings are Agrona many-to-one ring buffers over memory-mapped files.
 */
public final class IpcDirectory {
    private final Path dir;
    private final IpcAccess access;

    /** A directory for the owner only (0700, files 0600). */
    public IpcDirectory(Path dir) {
        this(dir, IpcAccess.owner());
    }

    /** A directory with the given access; see {@link IpcAccess}. */
    public IpcDirectory(Path dir, IpcAccess access) {
        this.dir = dir;
        this.access = access;
    }

    /**
     * A client's view of a server's directory: refused when others can write it; the client's files follow the
     * directory (shared with its group when it is).
     */
    public static IpcDirectory forClient(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new NoSuchFileException(dir.toString());
        }
        IpcAccess.checkNotLoose(dir, true);
        return new IpcDirectory(dir, IpcAccess.of(dir));
    }

    public Path path() {
        return dir;
    }

    public Path lockFile() {
        return dir.resolve("server.lock");
    }

    public Path infoFile() {
        return dir.resolve("server.info");
    }

    public Path requestRing() {
        return dir.resolve("requests.ring");
    }

    public Path clientRing(long clientId) {
        return dir.resolve("client-" + Long.toUnsignedString(clientId, 16) + ".ring");
    }

    /** A mapped ring and how to let go of it. */
    public record MappedRing(ManyToOneRingBuffer ring, MappedByteBuffer mapping, Path file) implements AutoCloseable {
        @Override
        public void close() {
            IoUtil.unmap(mapping);
        }
    }

    /** Creates (or replaces) a ring file with a data part of {@code capacity} bytes, with this directory's access, and maps it. */
    public MappedRing createRing(Path file, int capacity) {
        MappedByteBuffer m;
        try {
            Files.deleteIfExists(file);
            access.createFile(file);
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                // A file grown by truncate reads as zeros: an empty ring.
                m = ch.map(FileChannel.MapMode.READ_WRITE, 0, capacity + RingBufferDescriptor.TRAILER_LENGTH);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new MappedRing(new ManyToOneRingBuffer(new UnsafeBuffer(m)), m, file);
    }

    /** Maps an existing ring file, checking that its size is one a ring can have. */
    public static MappedRing openRing(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString());
        }
        long size = Files.size(file);
        long data = size - RingBufferDescriptor.TRAILER_LENGTH;
        if (data <= 0 || Long.bitCount(data) != 1 || size > Integer.MAX_VALUE) {
            throw new IOException(file + " is not a moed ring buffer (size " + size + ")");
        }
        MappedByteBuffer m = IoUtil.mapExistingFile(file.toFile(), "moed ring");
        return new MappedRing(new ManyToOneRingBuffer(new UnsafeBuffer(m)), m, file);
    }

    /** The lock a server holds while it serves this directory. */
    public record ServerLock(FileChannel channel, FileLock lock) implements AutoCloseable {
        @Override
        public void close() throws IOException {
            lock.release();
            channel.close();
        }
    }

    /**
     * Takes the directory for a new server: refused, naming the holder, if a live server holds it; a directory left
     * by a crashed server (files present, lock free) is cleaned up and reused.
     */
    public ServerLock lockForServer() throws IOException {
        access.prepareDirectory(dir);
        if (!Files.exists(lockFile())) {
            try {
                access.createFile(lockFile());
            } catch (java.nio.file.FileAlreadyExistsException e) {
                // another server is starting: the lock below decides
            }
        }
        FileChannel ch = FileChannel.open(lockFile(), StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = ch.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null;
        }
        if (lock == null) {
            ch.close();
            Properties p = readInfo();
            throw new IllegalStateException("another moed server is serving " + dir + " (pid " + p.getProperty("pid", "?")
                    + ", model " + p.getProperty("model", "?") + "): stop it first, or use another --ipc-dir");
        }
        // We hold the lock: anything left here is from a server that died without cleaning up.
        access.apply(lockFile());
        Files.deleteIfExists(requestRing());
        Files.deleteIfExists(infoFile());
        return new ServerLock(ch, lock);
    }

    public void writeInfo(long instanceId, String model) throws IOException {
        Properties p = new Properties();
        p.setProperty("pid", Long.toString(ProcessHandle.current().pid()));
        p.setProperty("instance", Long.toString(instanceId));
        p.setProperty("model", model);
        Path tmp = dir.resolve("server.info.tmp");
        Files.deleteIfExists(tmp);
        access.createFile(tmp);
        try (var w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
            p.store(w, "moed server");
        }
        Files.move(tmp, infoFile(), java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    /** The server's info, or empty properties when there is none. */
    public Properties readInfo() {
        Properties p = new Properties();
        try (var r = Files.newBufferedReader(infoFile(), StandardCharsets.UTF_8)) {
            p.load(r);
        } catch (IOException e) {
            // no server info: an empty answer
        }
        return p;
    }

    /** Removes the server's files (at shutdown). */
    public void removeServerFiles() {
        for (Path f : new Path[] {requestRing(), infoFile(), lockFile()}) {
            try {
                Files.deleteIfExists(f);
            } catch (IOException e) {
                // best effort at shutdown
            }
        }
    }
}
