package moed.kernels;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import jdk.incubator.vector.FloatVector;

/**
 * Measures what decode is bound by: the machine's memory read bandwidth (a STREAM-like sum over a buffer far
 * larger than the caches), then each format's mat-vec throughput in GB/s of weights streamed on a matrix of
 * {@code matrixMiB}, as a ratio to that bandwidth, and mat-mat GFLOP/s for several token counts.
 */
public final class KernelBenchmark {
    private KernelBenchmark() {
    }

    /** Progress callback: (step done, steps). */
    public interface Progress {
        void update(long done, long total);
    }

    public static Map<String, Object> run(List<GgmlType> types, int threads, long matrixMiB, int[] tokenCounts,
                                          Progress progress) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("kernels", Dot.describe());
        out.put("threads", threads);
        long steps = 2 + (long) types.size() * (2 + tokenCounts.length);
        long step = 0;
        try (Arena arena = Arena.ofShared();
             ParallelExecutor one = new ParallelExecutor(1);
             ParallelExecutor all = new ParallelExecutor(threads)) {
            long bufBytes = Math.max(matrixMiB, 256) << 20;
            MemorySegment buf = arena.allocate(bufBytes, 64);
            buf.fill((byte) 1);
            double bw1 = readBandwidth(buf, one);
            progress.update(++step, steps);
            double bwN = readBandwidth(buf, all);
            progress.update(++step, steps);
            out.put("read_gbps_1_thread", bw1);
            out.put("read_gbps_all_threads", bwN);
            List<Map<String, Object>> rows = new ArrayList<>();
            for (GgmlType t : types) {
                int cols = 4096;
                long rowBytes = t.bytesFor(cols);
                int nRows = (int) Math.max(1, (matrixMiB << 20) / rowBytes);
                MemorySegment data = buf.asSlice(0, rowBytes * nRows);
                fillRandomBlocks(t, data, new SplittableRandom(3));
                WeightMatrix m = WeightMatrix.of(t, data, nRows, cols);
                rows.add(measure(t.name(), m, one, all, bw1, bwN, tokenCounts, progress, step, steps));
                step += 2 + tokenCounts.length;
                // The layout the model loads this format in, when it repacks it (its own line; progress not counted).
                int groups = nRows / Interleaved.GROUP * Interleaved.GROUP;
                if (Interleaved.worthwhile(t, groups)) {
                    WeightMatrix in = Interleaved.interleave(m.rows(0, groups), arena.allocate(rowBytes * groups, 64));
                    rows.add(measure(t.name() + " interleaved", in, one, all, bw1, bwN, tokenCounts, (d, n) -> { }, 0, 0));
                }
            }
            out.put("formats", rows);
        }
        return out;
    }

    /** One line of the table: m's mat-vec GB/s (one thread, all) against the bandwidths, and its mat-mat GFLOP/s. */
    private static Map<String, Object> measure(String name, WeightMatrix m, ParallelExecutor one, ParallelExecutor all,
                                               double bw1, double bwN, int[] tokenCounts, Progress progress, long step,
                                               long steps) {
        Map<String, Object> r = new LinkedHashMap<>();
        double g1 = matVecGbps(m, one);
        progress.update(++step, steps);
        double gN = matVecGbps(m, all);
        progress.update(++step, steps);
        r.put("type", name);
        r.put("matrix_mib", m.byteSize() >> 20);
        r.put("matvec_gbps_1_thread", g1);
        r.put("matvec_gbps_all_threads", gN);
        r.put("ratio_1_thread", g1 / bw1);
        r.put("ratio_all_threads", gN / bwN);
        Map<String, Object> mm = new LinkedHashMap<>();
        // Once untimed at the largest count, so that C2 has compiled the format's GEMM before the first figure: with
        // both cores busy its compiler thread took longer than the first figure's half second.
        int rows = Math.min(m.rows(), 1024);
        matMatGflops(m.rows(0, rows), all, tokenCounts[tokenCounts.length - 1]);
        for (int n : tokenCounts) {
            mm.put(String.valueOf(n), matMatGflops(m.rows(0, rows), all, n));
            progress.update(++step, steps);
        }
        r.put("matmat_gflops_all_threads", mm);
        return r;
    }

    /** GB/s of a vectorized sum over the buffer, best of 5 passes. */
    static double readBandwidth(MemorySegment buf, ParallelExecutor ex) {
        int chunks = 1024;
        long chunk = buf.byteSize() / chunks;
        float[] sink = new float[chunks];
        double best = 0;
        for (int pass = 0; pass < 6; pass++) {
            long t0 = System.nanoTime();
            ex.run(chunks, 1, (from, to) -> {
                int vb = Dot.F.vectorByteSize();
                for (int c = from; c < to; c++) {
                    // Four independent accumulators: one add chain would be bound by add latency, not memory.
                    FloatVector a0 = FloatVector.zero(Dot.F);
                    FloatVector a1 = a0;
                    FloatVector a2 = a0;
                    FloatVector a3 = a0;
                    long end = (c + 1) * chunk;
                    for (long o = c * chunk; o + 4L * vb <= end; o += 4L * vb) {
                        a0 = a0.add(FloatVector.fromMemorySegment(Dot.F, buf, o, java.nio.ByteOrder.LITTLE_ENDIAN));
                        a1 = a1.add(FloatVector.fromMemorySegment(Dot.F, buf, o + vb, java.nio.ByteOrder.LITTLE_ENDIAN));
                        a2 = a2.add(FloatVector.fromMemorySegment(Dot.F, buf, o + 2L * vb, java.nio.ByteOrder.LITTLE_ENDIAN));
                        a3 = a3.add(FloatVector.fromMemorySegment(Dot.F, buf, o + 3L * vb, java.nio.ByteOrder.LITTLE_ENDIAN));
                    }
                    sink[c] = Dot.sum8(a0.add(a1).add(a2.add(a3))); // keeps the loads alive
                }
            });
            double gbps = buf.byteSize() / ((System.nanoTime() - t0) / 1e9) / 1e9;
            if (pass > 0) {
                best = Math.max(best, gbps);
            }
        }
        return best;
    }

    static double matVecGbps(WeightMatrix m, ParallelExecutor ex) {
        MatMat mm = new MatMat(ex);
        Activation[] x = {randomActivation(m.cols())};
        float[][] out = {new float[m.rows()]};
        double best = 0;
        for (int pass = 0; pass < 6; pass++) {
            long t0 = System.nanoTime();
            mm.apply(m, x, null, 1, out);
            double gbps = m.byteSize() / ((System.nanoTime() - t0) / 1e9) / 1e9;
            if (pass > 0) {
                best = Math.max(best, gbps);
            }
        }
        return best;
    }

    static double matMatGflops(WeightMatrix m, ParallelExecutor ex, int tokens) {
        MatMat mm = new MatMat(ex);
        Activation[] x = new Activation[tokens];
        float[][] out = new float[tokens][m.rows()];
        for (int i = 0; i < tokens; i++) {
            x[i] = randomActivation(m.cols());
        }
        // Best of the calls in half a second after a first one, at least four: a call on 1024 rows takes a few
        // milliseconds, and four calls left the GEMM's first compilation inside the figure (Q8_0 at 8 tokens read
        // 15 GFLOP/s for a GEMM that runs at 30 once compiled).
        double best = 0;
        long end = System.nanoTime() + 500_000_000L;
        for (int pass = 0; pass < 5 || System.nanoTime() < end; pass++) {
            long t0 = System.nanoTime();
            mm.apply(m, x, null, tokens, out);
            double gf = 2.0 * m.rows() * m.cols() * tokens / ((System.nanoTime() - t0) / 1e9) / 1e9;
            if (pass > 0) {
                best = Math.max(best, gf);
            }
        }
        return best;
    }

    static Activation randomActivation(int n) {
        SplittableRandom r = new SplittableRandom(n);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return new Activation(n).set(v, 0, n);
    }

    /** Fills a matrix with random but valid blocks: random quant bits, small finite scales. */
    public static void fillRandomBlocks(GgmlType t, MemorySegment data, SplittableRandom rnd) {
        byte[] b = new byte[t.blockBytes];
        BlockFormat format = BlockFormat.find(t);
        long blocks = data.byteSize() / t.blockBytes;
        for (long i = 0; i < blocks; i++) {
            long o = i * t.blockBytes;
            rnd.nextBytes(b);
            MemorySegment.copy(b, 0, data, java.lang.foreign.ValueLayout.JAVA_BYTE, o, b.length);
            if (format != null) {
                format.makeRandomBlockValid(data, o, rnd);
            }
        }
    }
}
