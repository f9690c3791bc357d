package moed.kernels.jmh;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import moed.kernels.Activation;
import moed.kernels.GgmlType;
import moed.kernels.KernelBenchmark;
import moed.kernels.MatMat;
import moed.kernels.ParallelExecutor;
import moed.kernels.WeightMatrix;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Decode's kernel: one activation against a weight matrix far larger than the caches (256 MiB by default), per
 * format and thread count. Run with {@code scripts/jmh.sh}; GB/s = matrix bytes / the reported time per op. This
 * is the JMH counterpart of {@code moed bench kernels}, for careful A/B work on a kernel.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class MatVecBenchmark {
    @Param({"Q8_0", "F16", "Q4_0", "Q4_K", "Q6_K", "F32", "BF16", "Q4_1", "Q5_0", "Q5_1", "Q5_K", "IQ4_NL", "MXFP4", "Q2_K", "Q3_K", "IQ4_XS", "IQ2_XXS", "IQ2_XS",
            "IQ2_S", "IQ3_XXS", "IQ3_S", "IQ1_S", "IQ1_M"})
    public String type;

    @Param({"1", "2"})
    public int threads;

    @Param({"256"})
    public int matrixMiB;

    private Arena arena;
    private ParallelExecutor executor;
    private MatMat mm;
    private WeightMatrix matrix;
    private Activation[] x;
    private float[][] out;

    @Setup(Level.Trial)
    public void setUp() {
        GgmlType t = GgmlType.valueOf(type);
        int cols = 4096;
        long rowBytes = t.bytesFor(cols);
        int rows = (int) Math.max(1, ((long) matrixMiB << 20) / rowBytes);
        arena = Arena.ofShared();
        MemorySegment data = arena.allocate(rowBytes * rows, 64);
        KernelBenchmark.fillRandomBlocks(t, data, new SplittableRandom(3));
        matrix = WeightMatrix.of(t, data, rows, cols);
        executor = new ParallelExecutor(threads);
        mm = new MatMat(executor);
        float[] v = new float[cols];
        SplittableRandom r = new SplittableRandom(5);
        for (int i = 0; i < cols; i++) {
            v[i] = (float) r.nextGaussian();
        }
        x = new Activation[] {new Activation(cols).set(v, 0, cols)};
        out = new float[][] {new float[rows]};
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        executor.close();
        arena.close();
    }

    @Benchmark
    public float matVec() {
        mm.apply(matrix, x, null, 1, out);
        return out[0][0];
    }
}
