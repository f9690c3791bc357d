package moed.cache;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import moed.kernels.GgmlType;

/**
 * Small expert layouts over memory (or a file) whose every expert has a recognisable byte pattern: uniform ones (every
 * layer Q8_0) and mixed ones, whose layers store their experts in different formats as the low-bit "dynamic"
 * quantizations do.
 */
final class TestLayouts {
    static final int COLS = 64;
    static final int ROWS = 16;

    /** How one layer stores its experts: gate and up in one type, down in another, each expert rows x cols. */
    record Format(GgmlType gateUp, GgmlType down, int rows, int cols) {
        Format(GgmlType all) {
            this(all, all, ROWS, COLS);
        }

        GgmlType type(int tensor) {
            return tensor == 2 ? down : gateUp;
        }

        /** Bytes of one expert's slice of tensor t. */
        long expertBytes(int tensor) {
            return type(tensor).bytesFor((long) rows * cols);
        }
    }

    private TestLayouts() {
    }

    static Format[] uniform(int layers) {
        Format[] f = new Format[layers];
        java.util.Arrays.fill(f, new Format(GgmlType.Q8_0));
        return f;
    }

    /** layers x experts of Q8_0 experts; byte i of expert (l, e) in tensor t is (l * 31 + e * 7 + t * 3 + i) & 0x7F. */
    static MemorySegment fill(int layers, int experts) {
        return fill(uniform(layers), experts);
    }

    /** As {@link #fill(int, int)}, each layer in its format; the tensors lie one after the other, layer by layer. */
    static MemorySegment fill(Format[] formats, int experts) {
        MemorySegment all = Arena.ofAuto().allocate(Math.max(1, offset(formats, experts, formats.length, 0)), 4096);
        for (int l = 0; l < formats.length; l++) {
            for (int t = 0; t < 3; t++) {
                long expertBytes = formats[l].expertBytes(t);
                for (int e = 0; e < experts; e++) {
                    long base = offset(formats, experts, l, t) + e * expertBytes;
                    for (long i = 0; i < expertBytes; i++) {
                        all.set(ValueLayout.JAVA_BYTE, base + i, pattern(l, e, t, i));
                    }
                }
            }
        }
        return all;
    }

    /** Where tensor t of layer l starts. */
    private static long offset(Format[] formats, int experts, int layer, int tensor) {
        long at = 0;
        for (int l = 0; l < formats.length; l++) {
            for (int t = 0; t < 3; t++) {
                if (l == layer && t == tensor) {
                    return at;
                }
                at += formats[l].expertBytes(t) * experts;
            }
        }
        return at;
    }

    static byte pattern(int l, int e, int t, long i) {
        return (byte) ((l * 31 + e * 7 + t * 3 + i) & 0x7F);
    }

    static ExpertLayout layout(MemorySegment all, int layers, int experts) {
        return layout(all, uniform(layers), experts);
    }

    static ExpertLayout layout(MemorySegment all, Format[] formats, int experts) {
        ExpertLayout.Layer[] ls = new ExpertLayout.Layer[formats.length];
        for (int l = 0; l < formats.length; l++) {
            Format f = formats[l];
            ExpertLayout.Stacked[] st = new ExpertLayout.Stacked[3];
            for (int t = 0; t < 3; t++) {
                long off = offset(formats, experts, l, t);
                st[t] = new ExpertLayout.Stacked(f.type(t), all.asSlice(off, f.expertBytes(t) * experts), off, experts,
                        f.rows(), f.cols());
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
        moed.kernels.WeightMatrix[] parts = {w.gate(), w.up(), w.down()};
        for (int t = 0; t < 3; t++) {
            MemorySegment got = parts[t].data();
            long n = got.byteSize();
            MemorySegment expected = got;
            if (parts[t].interleaved()) {
                // An interleaved expert (Q4_K, Q2_K) is rearranged in its slot: compare with the pattern rearranged the same way.
                MemorySegment file = java.lang.foreign.Arena.ofAuto().allocate(n);
                for (long i = 0; i < n; i++) {
                    file.set(ValueLayout.JAVA_BYTE, i, pattern(l, e, t, i));
                }
                moed.kernels.WeightMatrix m = moed.kernels.WeightMatrix.of(parts[t].type(), file, parts[t].rows(), parts[t].cols());
                expected = moed.kernels.Interleaved.interleave(m, java.lang.foreign.Arena.ofAuto().allocate(n)).data();
            }
            for (long i = 0; i < n; i += 37) {
                byte want = expected == got ? pattern(l, e, t, i) : expected.get(ValueLayout.JAVA_BYTE, i);
                if (got.get(ValueLayout.JAVA_BYTE, i) != want) {
                    return false;
                }
            }
        }
        return true;
    }
}
