package moed.cache;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import moed.kernels.GgmlType;

/** Small expert layouts over memory (or a file) whose every expert has a recognisable byte pattern. */
final class TestLayouts {
    static final int COLS = 64;
    static final int ROWS = 16;

    private TestLayouts() {
    }

    /** layers x experts of Q8_0 experts; byte i of expert (l, e) in tensor t is (l * 31 + e * 7 + t * 3 + i) & 0x7F. */
    static MemorySegment fill(int layers, int experts) {
        long tensorBytes = GgmlType.Q8_0.bytesFor((long) COLS * ROWS) * experts;
        MemorySegment all = Arena.ofAuto().allocate(tensorBytes * 3 * layers, 4096);
        long expertBytes = tensorBytes / experts;
        for (int l = 0; l < layers; l++) {
            for (int t = 0; t < 3; t++) {
                for (int e = 0; e < experts; e++) {
                    long base = (l * 3L + t) * tensorBytes + e * expertBytes;
                    for (long i = 0; i < expertBytes; i++) {
                        all.set(ValueLayout.JAVA_BYTE, base + i, pattern(l, e, t, i));
                    }
                }
            }
        }
        return all;
    }

    static byte pattern(int l, int e, int t, long i) {
        return (byte) ((l * 31 + e * 7 + t * 3 + i) & 0x7F);
    }

    static ExpertLayout layout(MemorySegment all, int layers, int experts) {
        long tensorBytes = GgmlType.Q8_0.bytesFor((long) COLS * ROWS) * experts;
        ExpertLayout.Layer[] ls = new ExpertLayout.Layer[layers];
        for (int l = 0; l < layers; l++) {
            ExpertLayout.Stacked[] st = new ExpertLayout.Stacked[3];
            for (int t = 0; t < 3; t++) {
                long off = (l * 3L + t) * tensorBytes;
                st[t] = new ExpertLayout.Stacked(GgmlType.Q8_0, all.asSlice(off, tensorBytes), off, experts, ROWS, COLS);
            }
            ls[l] = new ExpertLayout.Layer(st[0], st[1], st[2]);
        }
        return new ExpertLayout(ls, experts);
    }

    static void write(MemorySegment all, Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            ch.write(all.asByteBuffer());
        }
    }

    /** True when the weights' three matrices hold expert (l, e)'s pattern. */
    static boolean intact(ExpertWeights w, int l, int e) {
        MemorySegment[] parts = {w.gate().data(), w.up().data(), w.down().data()};
        for (int t = 0; t < 3; t++) {
            long n = w.gate().byteSize();
            for (long i = 0; i < n; i += 37) {
                if (parts[t].get(ValueLayout.JAVA_BYTE, i) != pattern(l, e, t, i)) {
                    return false;
                }
            }
        }
        return true;
    }
}
