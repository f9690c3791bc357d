package moed.runtime.gguf;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import moed.kernels.GgmlType;

/**
 * Writes GGUF v3 files. Metadata is collected first; tensors are declared with a {@link TensorFiller} that
 * writes each tensor's bytes straight into the memory-mapped output, so a model larger than the heap (or RAM)
 * is streamed to disk rather than held. The file appears under its name only once complete.
 */
public final class GgufWriter {
    /** Writes exactly {@code dst.byteSize()} bytes of one tensor's data. */
    @FunctionalInterface
    public interface TensorFiller {
        void fill(MemorySegment dst) throws IOException;
    }

    /** Told how many of the total data bytes are written, as tensors complete. */
    @FunctionalInterface
    public interface Progress {
        void update(long done, long total);
    }

    private record Entry(String key, GgufValueType type, Object value) {
    }

    private record Tensor(String name, GgmlType type, long[] dims, long bytes, TensorFiller filler) {
    }

    private final List<Entry> metadata = new ArrayList<>();
    private final List<Tensor> tensors = new ArrayList<>();
    private int alignment = GgufFile.DEFAULT_ALIGNMENT;

    public GgufWriter put(String key, GgufValueType type, Object value) {
        if (key.equals("general.alignment")) {
            alignment = ((Number) value).intValue();
        }
        metadata.add(new Entry(key, type, value));
        return this;
    }

    public GgufWriter putString(String key, String v) {
        return put(key, GgufValueType.STRING, v);
    }

    public GgufWriter putU32(String key, long v) {
        return put(key, GgufValueType.UINT32, v);
    }

    public GgufWriter putI32(String key, int v) {
        return put(key, GgufValueType.INT32, v);
    }

    public GgufWriter putF32(String key, float v) {
        return put(key, GgufValueType.FLOAT32, v);
    }

    public GgufWriter putBool(String key, boolean v) {
        return put(key, GgufValueType.BOOL, v);
    }

    public GgufWriter putArray(String key, GgufValueType elementType, List<?> values) {
        return put(key, GgufValueType.ARRAY, new GgufArray(elementType, new ArrayList<>(values)));
    }

    /** Copies every metadata entry of an existing file (types preserved). */
    public GgufWriter copyMetadata(GgufFile src, java.util.function.Predicate<String> keep) {
        for (var e : src.metadata().entrySet()) {
            if (keep.test(e.getKey())) {
                put(e.getKey(), typeOf(e.getValue()), e.getValue());
            }
        }
        return this;
    }

    private static GgufValueType typeOf(Object v) {
        // The reader boxes UINT32 as Long and UINT8/16, INT8/16/32 as Integer; INT32 is the faithful choice for
        // Integer and UINT64 widens nothing, so only keys whose width matters need care: those below are
        // written back with the width llama.cpp expects.
        return switch (v) {
            case String s -> GgufValueType.STRING;
            case Boolean b -> GgufValueType.BOOL;
            case Float f -> GgufValueType.FLOAT32;
            case Double d -> GgufValueType.FLOAT64;
            case Integer i -> GgufValueType.INT32;
            case Long l -> l >= 0 && l <= 0xFFFFFFFFL ? GgufValueType.UINT32 : GgufValueType.UINT64;
            case GgufArray a -> GgufValueType.ARRAY;
            default -> throw new IllegalArgumentException("cannot write metadata value " + v);
        };
    }

    public GgufWriter addTensor(String name, GgmlType type, long[] dims, TensorFiller filler) {
        long elements = 1;
        for (long d : dims) {
            elements *= d;
        }
        tensors.add(new Tensor(name, type, dims.clone(), type.bytesFor(elements), filler));
        return this;
    }

    /** Total bytes of tensor data declared so far. */
    public long dataBytes() {
        long n = 0;
        for (Tensor t : tensors) {
            n += t.bytes;
        }
        return n;
    }

    public void write(Path out) throws IOException {
        write(out, (d, t) -> { });
    }

    public void write(Path out, Progress progress) throws IOException {
        Header h = new Header();
        h.u32(GgufFile.MAGIC);
        h.u32(3);
        h.u64(tensors.size());
        h.u64(metadata.size());
        for (Entry e : metadata) {
            h.string(e.key);
            h.u32(e.type.id);
            h.value(e.type, e.value);
        }
        long offset = 0;
        List<Long> offsets = new ArrayList<>();
        for (Tensor t : tensors) {
            h.string(t.name);
            h.u32(t.dims.length);
            for (long d : t.dims) {
                h.u64(d);
            }
            h.u32(t.type.id);
            h.u64(offset);
            offsets.add(offset);
            offset = align(offset + t.bytes);
        }
        byte[] header = h.bytes();
        long dataStart = align(header.length);
        long total = dataStart + offset;
        Path dir = out.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, out.getFileName().toString(), ".part");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.READ, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                ch.write(ByteBuffer.wrap(header));
                long done = 0;
                long dataTotal = dataBytes();
                // Map one tensor at a time: the page cache, not the heap, holds what is being written.
                for (int i = 0; i < tensors.size(); i++) {
                    Tensor t = tensors.get(i);
                    long at = dataStart + offsets.get(i);
                    try (Arena one = Arena.ofShared()) {
                        MemorySegment dst = ch.map(FileChannel.MapMode.READ_WRITE, at, t.bytes, one);
                        t.filler.fill(dst);
                        dst.force();
                    }
                    done += t.bytes;
                    progress.update(done, dataTotal);
                }
                if (ch.size() < total) {
                    ch.write(ByteBuffer.wrap(new byte[(int) (total - ch.size())]), ch.size());
                }
            }
            Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private long align(long n) {
        return (n + alignment - 1) / alignment * alignment;
    }

    /** A growable little-endian buffer for the header. */
    private static final class Header {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();
        private final ByteBuffer scratch = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);

        void u8(int v) {
            out.write(v);
        }

        void u16(int v) {
            scratch.clear();
            scratch.putShort((short) v);
            out.write(scratch.array(), 0, 2);
        }

        void u32(long v) {
            scratch.clear();
            scratch.putInt((int) v);
            out.write(scratch.array(), 0, 4);
        }

        void u64(long v) {
            scratch.clear();
            scratch.putLong(v);
            out.write(scratch.array(), 0, 8);
        }

        void string(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            u64(b.length);
            out.write(b, 0, b.length);
        }

        void value(GgufValueType type, Object v) {
            switch (type) {
                case UINT8, INT8 -> u8(((Number) v).intValue());
                case UINT16, INT16 -> u16(((Number) v).intValue());
                case UINT32, INT32 -> u32(((Number) v).longValue());
                case FLOAT32 -> u32(Float.floatToRawIntBits(((Number) v).floatValue()));
                case BOOL -> u8((Boolean) v ? 1 : 0);
                case STRING -> string((String) v);
                case UINT64, INT64 -> u64(((Number) v).longValue());
                case FLOAT64 -> u64(Double.doubleToRawLongBits(((Number) v).doubleValue()));
                case ARRAY -> {
                    GgufArray a = (GgufArray) v;
                    u32(a.elementType().id);
                    u64(a.values().size());
                    for (Object o : a.values()) {
                        value(a.elementType(), o);
                    }
                }
            }
        }

        byte[] bytes() {
            return out.toByteArray();
        }
    }

    /** A filler that copies bytes from an existing segment (a tensor kept as it is). */
    public static TensorFiller copyOf(MemorySegment src) {
        return dst -> MemorySegment.copy(src, 0, dst, 0, dst.byteSize());
    }

}
