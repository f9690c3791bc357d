package moed.runtime.gguf;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import moed.kernels.Bytes;
import moed.kernels.GgmlType;

/**
 * A GGUF file (v2 or v3), memory-mapped once; metadata parsed eagerly, tensors exposed as views of the mapping.
 *
 * <p>Every count, length and offset read from the file is checked against the bytes that remain before it is
 * used, so a damaged or hostile file gives a {@link GgufFormatException} naming the offset, never an
 * OutOfMemoryError or a crash. Closing unmaps the file; tensor segments must not be used afterwards.
 */
public final class GgufFile implements AutoCloseable {
    public static final int MAGIC = 0x46554747; // "GGUF" read as a little-endian uint32
    public static final int DEFAULT_ALIGNMENT = 32;
    /** Nesting deeper than this is not a model file; it is an attack on the parser's stack. */
    private static final int MAX_ARRAY_DEPTH = 8;

    private final Path path;
    private final Arena arena;
    private final MemorySegment file;
    private final int version;
    private final Map<String, Object> metadata;
    private final Map<String, GgufTensor> tensors;
    private final long dataOffset;
    private final int alignment;

    private GgufFile(Path path, Arena arena, MemorySegment file, int version, Map<String, Object> metadata,
                     Map<String, GgufTensor> tensors, long dataOffset, int alignment) {
        this.path = path;
        this.arena = arena;
        this.file = file;
        this.version = version;
        this.metadata = metadata;
        this.tensors = tensors;
        this.dataOffset = dataOffset;
        this.alignment = alignment;
    }

    /** Maps and parses the file. Throws GgufFormatException for a file that is not valid GGUF. */
    public static GgufFile open(Path path) throws IOException {
        if (!Files.isRegularFile(path)) {
            throw new NoSuchFileException(path.toString(), null, "no such model file");
        }
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            MemorySegment seg = size == 0 ? MemorySegment.NULL.reinterpret(0) : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            // Seen as a plain native segment over the same mapping (same arena, same lifetime): the kernels then
            // meet one segment class whether a weight is mapped or a resident cache copy, and the JIT keeps their
            // memory accesses monomorphic. Measured: mixed classes halved decode speed with a cache.
            if (size > 0) {
                seg = MemorySegment.ofAddress(seg.address()).reinterpret(size, arena, null).asReadOnly();
            }
            return parse(path, arena, seg);
        } catch (RuntimeException | IOException e) {
            arena.close();
            throw e;
        }
    }

    private static GgufFile parse(Path path, Arena arena, MemorySegment seg) {
        Cursor c = new Cursor(path, seg);
        if (seg.byteSize() < 4) {
            throw c.fail(0, "file is " + seg.byteSize() + " bytes, too short to be GGUF");
        }
        int magic = c.u32();
        if (magic != MAGIC) {
            throw c.fail(0, String.format("not a GGUF file: magic is 0x%08x, expected 0x%08x (\"GGUF\")", magic, MAGIC));
        }
        long vAt = c.pos;
        int version = c.u32();
        if (version != 2 && version != 3) {
            throw c.fail(vAt, "unsupported GGUF version " + Integer.toUnsignedString(version) + "; moed reads versions 2 and 3");
        }
        long tcAt = c.pos;
        long tensorCount = c.u64();
        long kvAt = c.pos;
        long kvCount = c.u64();
        // Each key/value takes at least 8 (key length) + 4 (type) + 1 bytes, each tensor info at least 8+4+8+4+8.
        if (kvCount < 0 || kvCount > c.remaining() / 13) {
            throw c.fail(kvAt, "metadata count " + Long.toUnsignedString(kvCount) + " is impossible for a file of " + seg.byteSize() + " bytes");
        }
        if (tensorCount < 0 || tensorCount > c.remaining() / 32) {
            throw c.fail(tcAt, "tensor count " + Long.toUnsignedString(tensorCount) + " is impossible for a file of " + seg.byteSize() + " bytes");
        }
        Map<String, Object> meta = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            long keyAt = c.pos;
            String key = c.string();
            long typeAt = c.pos;
            GgufValueType type = c.valueType();
            if (meta.containsKey(key)) {
                throw c.fail(keyAt, "duplicate metadata key '" + key + "'");
            }
            meta.put(key, c.value(type, 0, typeAt));
        }
        int alignment = DEFAULT_ALIGNMENT;
        Object al = meta.get("general.alignment");
        if (al != null) {
            if (!(al instanceof Number n) || n.longValue() <= 0 || Long.bitCount(n.longValue()) != 1 || n.longValue() > (1 << 20)) {
                throw c.fail(0, "general.alignment must be a power of two up to 1 MiB, found " + al);
            }
            alignment = n.intValue();
        }
        List<long[]> raw = new ArrayList<>();
        List<String> names = new ArrayList<>();
        List<GgmlType> types = new ArrayList<>();
        List<long[]> dimsList = new ArrayList<>();
        for (long i = 0; i < tensorCount; i++) {
            long infoAt = c.pos;
            String name = c.string();
            long ndAt = c.pos;
            int nDims = c.u32();
            if (nDims < 1 || nDims > 4) {
                throw c.fail(ndAt, "tensor '" + name + "' has " + Integer.toUnsignedString(nDims) + " dimensions; GGUF allows 1 to 4");
            }
            long[] dims = new long[nDims];
            long elements = 1;
            for (int d = 0; d < nDims; d++) {
                long dAt = c.pos;
                dims[d] = c.u64();
                if (dims[d] <= 0 || dims[d] > (1L << 40)) {
                    throw c.fail(dAt, "tensor '" + name + "' dimension " + d + " is " + Long.toUnsignedString(dims[d]));
                }
                elements = Math.multiplyHigh(elements, dims[d]) != 0 || elements * dims[d] > (1L << 46)
                        ? -1 : elements * dims[d];
                if (elements < 0) {
                    throw c.fail(dAt, "tensor '" + name + "' has too many elements (dimensions " + java.util.Arrays.toString(dims) + ")");
                }
            }
            long typeAt = c.pos;
            int typeId = c.u32();
            GgmlType type = GgmlType.byId(typeId);
            if (type == null) {
                throw c.fail(typeAt, "tensor '" + name + "' has unknown ggml type id " + Integer.toUnsignedString(typeId));
            }
            if (dims[0] % type.blockSize != 0) {
                throw c.fail(typeAt, "tensor '" + name + "' rows of " + dims[0] + " are not whole " + type + " blocks of " + type.blockSize);
            }
            long offAt = c.pos;
            long offset = c.u64();
            if (offset < 0 || offset % alignment != 0) {
                throw c.fail(offAt, "tensor '" + name + "' data offset " + Long.toUnsignedString(offset) + " is not a multiple of the alignment " + alignment);
            }
            names.add(name);
            types.add(type);
            dimsList.add(dims);
            raw.add(new long[] {offset, type.bytesFor(elements), infoAt});
        }
        long dataOffset = (c.pos + alignment - 1) / alignment * alignment;
        long dataSize = seg.byteSize() - dataOffset;
        if (tensorCount > 0 && dataSize < 0) {
            throw c.fail(c.pos, "file ends before its tensor data section (truncated)");
        }
        Map<String, GgufTensor> tensors = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) {
            long[] r = raw.get(i);
            if (r[0] > dataSize || r[1] > dataSize - r[0]) {
                throw c.fail(dataOffset + r[0], "tensor '" + names.get(i) + "' data [" + r[0] + ", " + (r[0] + r[1])
                        + ") lies outside the data section of " + Math.max(0, dataSize) + " bytes (file truncated?)");
            }
            if (tensors.containsKey(names.get(i))) {
                throw c.fail(r[2], "duplicate tensor name '" + names.get(i) + "'");
            }
            MemorySegment data = seg.asSlice(dataOffset + r[0], r[1]);
            tensors.put(names.get(i), new GgufTensor(names.get(i), types.get(i), dimsList.get(i), r[0], r[1], data));
        }
        List<GgufTensor> byOffset = new ArrayList<>(tensors.values());
        byOffset.sort(Comparator.comparingLong(GgufTensor::offset));
        for (int i = 1; i < byOffset.size(); i++) {
            GgufTensor a = byOffset.get(i - 1);
            GgufTensor b = byOffset.get(i);
            if (a.offset() + a.byteSize() > b.offset()) {
                throw c.fail(dataOffset + b.offset(), "tensors '" + a.name() + "' and '" + b.name() + "' overlap");
            }
        }
        return new GgufFile(path, arena, seg, version, Collections.unmodifiableMap(meta),
                Collections.unmodifiableMap(tensors), dataOffset, alignment);
    }

    public Path path() {
        return path;
    }

    public int version() {
        return version;
    }

    public int alignment() {
        return alignment;
    }

    public long dataOffset() {
        return dataOffset;
    }

    public long fileSize() {
        return file.byteSize();
    }

    /** The whole mapped file. */
    public MemorySegment segment() {
        return file;
    }

    public Map<String, Object> metadata() {
        return metadata;
    }

    public Map<String, GgufTensor> tensors() {
        return tensors;
    }

    /** Bytes of the weight matrices (tensors of two or more dimensions) per storage type. */
    public Map<GgmlType, Long> weightBytesByType() {
        Map<GgmlType, Long> bytes = new java.util.EnumMap<>(GgmlType.class);
        for (GgufTensor t : tensors.values()) {
            if (t.dims().length >= 2) {
                bytes.merge(t.type(), t.byteSize(), Long::sum);
            }
        }
        return bytes;
    }

    public GgufTensor tensor(String name) {
        return tensors.get(name);
    }

    /** The tensor, or a clear error naming the file and the missing tensor. */
    public GgufTensor requireTensor(String name) {
        GgufTensor t = tensors.get(name);
        if (t == null) {
            throw new GgufFormatException(path, 0, "model has no tensor '" + name + "'");
        }
        return t;
    }

    public boolean has(String key) {
        return metadata.containsKey(key);
    }

    public String getString(String key) {
        return require(key, String.class);
    }

    public String getString(String key, String dflt) {
        return metadata.containsKey(key) ? getString(key) : dflt;
    }

    public long getLong(String key) {
        return require(key, Number.class).longValue();
    }

    public int getInt(String key) {
        long v = getLong(key);
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
            throw new GgufFormatException(path, 0, "metadata '" + key + "' = " + v + " does not fit an int");
        }
        return (int) v;
    }

    public int getInt(String key, int dflt) {
        return metadata.containsKey(key) ? getInt(key) : dflt;
    }

    public float getFloat(String key) {
        return require(key, Number.class).floatValue();
    }

    public float getFloat(String key, float dflt) {
        return metadata.containsKey(key) ? getFloat(key) : dflt;
    }

    public boolean getBool(String key, boolean dflt) {
        return metadata.containsKey(key) ? require(key, Boolean.class) : dflt;
    }

    public GgufArray getArray(String key) {
        return require(key, GgufArray.class);
    }

    private <T> T require(String key, Class<T> type) {
        Object v = metadata.get(key);
        if (v == null) {
            throw new GgufFormatException(path, 0, "metadata key '" + key + "' is missing");
        }
        if (!type.isInstance(v)) {
            throw new GgufFormatException(path, 0, "metadata key '" + key + "' is a " + v.getClass().getSimpleName()
                    + ", expected " + type.getSimpleName());
        }
        return type.cast(v);
    }

    @Override
    public void close() {
        arena.close();
    }

    /** Reads header fields with a bounds check before every read. */
    private static final class Cursor {
        private final Path path;
        private final MemorySegment seg;
        private long pos;

        Cursor(Path path, MemorySegment seg) {
            this.path = path;
            this.seg = seg;
        }

        long remaining() {
            return seg.byteSize() - pos;
        }

        GgufFormatException fail(long at, String problem) {
            return new GgufFormatException(path, at, problem);
        }

        private void need(long n, String what) {
            if (n < 0 || n > remaining()) {
                throw fail(pos, "truncated: " + what + " needs " + Long.toUnsignedString(n) + " bytes, "
                        + remaining() + " remain");
            }
        }

        int u8() {
            need(1, "a uint8");
            return seg.get(ValueLayout.JAVA_BYTE, pos++) & 0xFF;
        }

        int u16() {
            need(2, "a uint16");
            int v = seg.get(Bytes.LE_SHORT, pos);
            pos += 2;
            return v;
        }

        int u32() {
            need(4, "a uint32");
            int v = seg.get(Bytes.LE_INT, pos);
            pos += 4;
            return v;
        }

        long u64() {
            need(8, "a uint64");
            long v = seg.get(Bytes.LE_LONG, pos);
            pos += 8;
            return v;
        }

        String string() {
            long at = pos;
            long len = u64();
            if (len < 0 || len > remaining()) {
                throw fail(at, "string length " + Long.toUnsignedString(len) + " exceeds the " + remaining() + " bytes that remain");
            }
            byte[] b = seg.asSlice(pos, len).toArray(ValueLayout.JAVA_BYTE);
            pos += len;
            try {
                return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(java.nio.ByteBuffer.wrap(b)).toString();
            } catch (CharacterCodingException e) {
                // Vocabularies may hold byte pieces that are not valid UTF-8 alone; keep them, lossily.
                return new String(b, StandardCharsets.UTF_8);
            }
        }

        GgufValueType valueType() {
            long at = pos;
            int id = u32();
            GgufValueType t = GgufValueType.byId(id);
            if (t == null) {
                throw fail(at, "unknown metadata value type " + Integer.toUnsignedString(id));
            }
            return t;
        }

        Object value(GgufValueType type, int depth, long at) {
            return switch (type) {
                case UINT8 -> u8();
                case INT8 -> (int) (byte) u8();
                case UINT16 -> u16() & 0xFFFF;
                case INT16 -> (int) (short) u16();
                case UINT32 -> Integer.toUnsignedLong(u32());
                case INT32 -> u32();
                case FLOAT32 -> Float.intBitsToFloat(u32());
                case BOOL -> {
                    int b = u8();
                    if (b > 1) {
                        throw fail(pos - 1, "bool value " + b + " is neither 0 nor 1");
                    }
                    yield b == 1;
                }
                case STRING -> string();
                case UINT64, INT64 -> u64();
                case FLOAT64 -> Double.longBitsToDouble(u64());
                case ARRAY -> array(depth, at);
            };
        }

        private GgufArray array(int depth, long at) {
            if (depth >= MAX_ARRAY_DEPTH) {
                throw fail(at, "arrays nested deeper than " + MAX_ARRAY_DEPTH);
            }
            long etAt = pos;
            GgufValueType et = valueType();
            long countAt = pos;
            long count = u64();
            if (count < 0 || count > remaining() / et.minBytes) {
                throw fail(countAt, "array of " + Long.toUnsignedString(count) + " " + et + " values cannot fit in the "
                        + remaining() + " bytes that remain");
            }
            List<Object> values = new ArrayList<>((int) count);
            for (long i = 0; i < count; i++) {
                values.add(value(et, depth + 1, etAt));
            }
            return new GgufArray(et, Collections.unmodifiableList(values));
        }
    }
}
