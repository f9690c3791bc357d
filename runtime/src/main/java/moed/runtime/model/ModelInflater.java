package moed.runtime.model;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import moed.kernels.Dequantize;
import moed.kernels.GgmlType;
import moed.kernels.Quantize;
import moed.runtime.config.Setting;
import moed.runtime.config.SettingException;
import moed.runtime.gguf.FileType;
import moed.runtime.gguf.GgufFile;
import moed.runtime.gguf.GgufTensor;
import moed.runtime.gguf.GgufWriter;

/**
 * Makes a bigger model whose outputs and routing are identical to a small one: each expert's hidden size grows
 * from ff to F with extra neurons. Their gate and up rows are random (so they cost real bytes and compute), and
 * the matching {@code ffn_down} columns are zero blocks, so the extra neurons add exactly zero to the output.
 * Blocks are independent in every ggml format, so appending zero blocks to a down row leaves its dot products
 * bit for bit the same. This turns a small trained model into a realistic expert-offloading workload.
 */
public final class ModelInflater {
    private ModelInflater() {
    }

    /** Inflates {@code in} to expert hidden size {@code newFf}; {@code type} null keeps each tensor's own type. */
    public static void inflate(Path in, Path out, int newFf, GgmlType type, long seed, GgufWriter.Progress progress)
            throws IOException {
        try (GgufFile src = GgufFile.open(in)) {
            ModelConfig c = ModelConfig.from(src);
            if (!c.isMoe()) {
                throw new IllegalArgumentException(in + " has no experts to inflate");
            }
            Model.load(src); // checks every tensor before anything is written
            int ff = c.feedForward();
            if (newFf < ff) {
                throw new SettingException(Setting.EXPERT_HIDDEN, "an expert hidden size of " + newFf + " is smaller than the model's " + ff);
            }
            GgufWriter w = new GgufWriter();
            String arch = c.architecture();
            w.copyMetadata(src, k -> !k.equals(arch + ".expert_feed_forward_length") && !k.equals(arch + ".feed_forward_length")
                    && (type == null || !k.equals(FileType.KEY)));
            if (type != null) {
                FileType.put(w, type); // every weight matrix but the routers' is re-quantized to it
            }
            w.putU32(arch + ".feed_forward_length", newFf);
            w.putU32(arch + ".expert_feed_forward_length", newFf);
            w.putString("general.moed.inflated_from", in.getFileName().toString());
            for (GgufTensor t : src.tensors().values()) {
                String n = t.name();
                GgmlType tt = type != null && t.dims().length > 1 && !n.endsWith("ffn_gate_inp.weight") ? type : t.type();
                if (n.endsWith("ffn_gate_exps.weight") || n.endsWith("ffn_up_exps.weight")) {
                    long[] dims = {t.dim(0), newFf, t.dim(2)};
                    w.addTensor(n, tt, dims, dst -> growRows(t, ff, newFf, tt, dst, seed ^ n.hashCode()));
                } else if (n.endsWith("ffn_down_exps.weight")) {
                    long[] dims = {newFf, t.dim(1), t.dim(2)};
                    if (newFf % tt.blockSize != 0 || ff % tt.blockSize != 0) {
                        throw new IllegalArgumentException(n + ": expert-ff " + ff + " and " + newFf + " must be multiples of "
                                + tt + "'s block of " + tt.blockSize);
                    }
                    w.addTensor(n, tt, dims, dst -> growColumns(t, ff, newFf, tt, dst));
                } else if (tt == t.type()) {
                    w.addTensor(n, tt, t.dims(), GgufWriter.copyOf(t.data()));
                } else {
                    w.addTensor(n, tt, t.dims(), dst -> convert(t, tt, dst));
                }
            }
            w.write(out, progress);
        }
    }

    /** Copies one row as type {@code to}: raw bytes when the type is unchanged, else dequantize and requantize. */
    private static void copyRow(GgufTensor t, long srcRow, GgmlType to, MemorySegment dst, long dstOff, float[] scratch) {
        int cols = (int) t.dim(0);
        long srcBytes = t.type().bytesFor(cols);
        if (to == t.type()) {
            MemorySegment.copy(t.data(), srcRow * srcBytes, dst, dstOff, srcBytes);
        } else {
            Dequantize.row(t.type(), t.data(), srcRow * srcBytes, scratch, 0, cols);
            Quantize.row(to, scratch, 0, cols, dst, dstOff);
        }
    }

    private static void convert(GgufTensor t, GgmlType to, MemorySegment dst) {
        int cols = (int) t.dim(0);
        long rows = t.elements() / cols;
        IntStream.range(0, (int) rows).parallel().forEach(r -> copyRow(t, r, to, dst, r * to.bytesFor(cols), new float[cols]));
    }

    // gate/up: [dim x ff x E] -> [dim x F x E]: expert e's first ff rows are the original ones, the rest random.
    private static void growRows(GgufTensor t, int ff, int newFf, GgmlType to, MemorySegment dst, long seed) {
        int cols = (int) t.dim(0);
        int experts = (int) t.dim(2);
        long rowBytes = to.bytesFor(cols);
        float[] probe = new float[cols];
        // The new rows get the scale of the expert's real rows, so the extra neurons look like real ones.
        Dequantize.row(t.type(), t.data(), 0, probe, 0, cols);
        double ss = 0;
        for (float v : probe) {
            ss += v * v;
        }
        float std = (float) Math.sqrt(ss / cols);
        IntStream.range(0, experts * newFf).parallel().forEach(i -> {
            int e = i / newFf;
            int r = i % newFf;
            long off = (long) i * rowBytes;
            float[] row = new float[cols];
            if (r < ff) {
                copyRow(t, (long) e * ff + r, to, dst, off, row);
            } else {
                SplittableRandom rnd = new SplittableRandom(seed * 31 + i);
                for (int j = 0; j < cols; j++) {
                    row[j] = (float) (rnd.nextDouble(-1, 1) * std * Math.sqrt(3));
                }
                quantizeAny(to, row, dst, off);
            }
        });
    }

    // down: [ff x dim x E] -> [F x dim x E]: each row is the original ff weights followed by zero blocks.
    private static void growColumns(GgufTensor t, int ff, int newFf, GgmlType to, MemorySegment dst) {
        int rows = (int) (t.dim(1) * t.dim(2));
        long newRowBytes = to.bytesFor(newFf);
        long oldRowBytes = to.bytesFor(ff);
        IntStream.range(0, rows).parallel().forEach(r -> {
            long off = r * newRowBytes;
            copyRow(t, r, to, dst, off, new float[ff]);
            // A zero block (scale 0, quants 0) dequantizes to exact zeros in every format.
            dst.asSlice(off + oldRowBytes, newRowBytes - oldRowBytes).fill((byte) 0);
        });
    }

    private static void quantizeAny(GgmlType to, float[] row, MemorySegment dst, long off) {
        if (!Quantize.supports(to)) {
            throw new IllegalArgumentException("moed cannot write " + to + " rows; choose a type it writes: Q8_0, Q4_0, Q4_K, Q6_K, F16, BF16 or F32");
        }
        Quantize.row(to, row, 0, row.length, dst, off);
    }

}
