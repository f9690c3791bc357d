package moed.runtime.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import moed.kernels.Bytes;
import moed.kernels.GgmlType;
import moed.runtime.TestFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GgufRoundTripTest {
    @TempDir
    Path dir;

    static GgufWriter sample() {
        GgufWriter w = new GgufWriter();
        w.put("u8", GgufValueType.UINT8, 200);
        w.put("i8", GgufValueType.INT8, -5);
        w.put("u16", GgufValueType.UINT16, 60000);
        w.put("i16", GgufValueType.INT16, -30000);
        w.putU32("u32", 4_000_000_000L);
        w.putI32("i32", -7);
        w.putF32("f32", 1.5f);
        w.putBool("bool", true);
        w.putString("str", "h\u00e9llo \u2581");
        w.put("u64", GgufValueType.UINT64, 1L << 40);
        w.put("i64", GgufValueType.INT64, -(1L << 40));
        w.put("f64", GgufValueType.FLOAT64, 2.25);
        w.putArray("arr", GgufValueType.INT32, List.of(1, 2, 3));
        w.putArray("nested", GgufValueType.ARRAY, List.of(
                new GgufArray(GgufValueType.STRING, List.of("a", "b")),
                new GgufArray(GgufValueType.FLOAT32, List.of(0.5f))));
        w.addTensor("a", GgmlType.F32, new long[] {3, 2}, dst -> {
            for (int i = 0; i < 6; i++) {
                dst.set(Bytes.LE_FLOAT, i * 4L, i);
            }
        });
        w.addTensor("b", GgmlType.Q8_0, new long[] {64}, dst -> dst.fill((byte) 1));
        return w;
    }

    @Test
    void shouldReadBackEveryValueTypeAndTensor() throws Exception {
        Path f = dir.resolve("t.gguf");
        sample().write(f);
        try (GgufFile g = GgufFile.open(f)) {
            assertEquals(3, g.version());
            assertEquals(200, g.getInt("u8"));
            assertEquals(-5, g.getInt("i8"));
            assertEquals(60000, g.getInt("u16"));
            assertEquals(-30000, g.getInt("i16"));
            assertEquals(4_000_000_000L, g.getLong("u32"));
            assertEquals(-7, g.getInt("i32"));
            assertEquals(1.5f, g.getFloat("f32"));
            assertTrue(g.getBool("bool", false));
            assertEquals("h\u00e9llo \u2581", g.getString("str"));
            assertEquals(1L << 40, g.getLong("u64"));
            assertEquals(-(1L << 40), g.getLong("i64"));
            assertEquals(2.25f, g.getFloat("f64"));
            assertEquals(List.of(1, 2, 3), g.getArray("arr").values());
            GgufArray nested = g.getArray("nested");
            assertEquals(List.of("a", "b"), ((GgufArray) nested.values().get(0)).values());
            GgufTensor a = g.requireTensor("a");
            assertArrayEquals(new long[] {3, 2}, a.dims());
            assertEquals(5f, a.data().get(Bytes.LE_FLOAT, 20));
            assertEquals(0, a.offset() % 32);
            GgufTensor b = g.requireTensor("b");
            assertEquals(68, b.byteSize());
            assertEquals(0, (g.dataOffset() + b.offset()) % 32);
            assertEquals(1, b.data().get(ValueLayout.JAVA_BYTE, 67));
        }
    }

    @Test
    void shouldNameMissingAndMistypedKeys() throws Exception {
        Path f = dir.resolve("t.gguf");
        sample().write(f);
        try (GgufFile g = GgufFile.open(f)) {
            GgufFormatException e = assertThrows(GgufFormatException.class, () -> g.getString("nope"));
            assertTrue(e.getMessage().contains("'nope' is missing"), e.getMessage());
            e = assertThrows(GgufFormatException.class, () -> g.getString("u32"));
            assertTrue(e.getMessage().contains("'u32' is a Long, expected String"), e.getMessage());
        }
    }

    @Test
    void shouldRejectForeignAndTruncatedFilesWithOffsets() throws Exception {
        Path junk = dir.resolve("junk.gguf");
        Files.writeString(junk, "PK\u0003\u0004 this is a zip, not a model");
        GgufFormatException e = assertThrows(GgufFormatException.class, () -> GgufFile.open(junk));
        assertTrue(e.getMessage().contains("not a GGUF file"), e.getMessage());
        assertTrue(e.getMessage().contains(junk.toString()), e.getMessage());
        Path empty = dir.resolve("empty.gguf");
        Files.write(empty, new byte[0]);
        assertTrue(assertThrows(GgufFormatException.class, () -> GgufFile.open(empty)).getMessage().contains("too short"));
        byte[] model = Files.readAllBytes(TestFiles.defaultModel());
        Path cut = dir.resolve("cut.gguf");
        Files.write(cut, java.util.Arrays.copyOf(model, model.length - 1000));
        e = assertThrows(GgufFormatException.class, () -> GgufFile.open(cut));
        assertTrue(e.getMessage().contains("outside the data section"), e.getMessage());
    }

    @Test
    void shouldRejectUnsupportedVersion() throws Exception {
        Path f = dir.resolve("t.gguf");
        sample().write(f);
        byte[] b = Files.readAllBytes(f);
        b[4] = 1;
        Files.write(f, b);
        GgufFormatException e = assertThrows(GgufFormatException.class, () -> GgufFile.open(f));
        assertEquals("unsupported GGUF version 1; moed reads versions 2 and 3", e.getMessage().substring(e.getMessage().indexOf(": ") + 2));
        assertEquals(4, e.offset());
    }
}
