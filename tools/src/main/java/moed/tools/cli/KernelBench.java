package moed.tools.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import moed.kernels.GgmlType;
import moed.kernels.KernelBenchmark;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code moed bench kernels}: memory bandwidth, mat-vec GB/s per format against it, and mat-mat GFLOP/s. */
@Command(name = "kernels", mixinStandardHelpOptions = true,
        description = "Measure read bandwidth, each format's mat-vec GB/s (and its ratio to the bandwidth), and mat-mat GFLOP/s.")
final class KernelBench implements Callable<Integer> {
    @Option(names = {"-t", "--threads"}, defaultValue = "0", description = "threads for the all-threads figures (default: all cores)")
    int threads;

    @Option(names = "--types", split = ",", defaultValue = "F32,F16,BF16,Q8_0,Q4_0,Q4_1,Q5_0,Q5_1,Q4_K,Q5_K,Q6_K",
            description = "formats to measure (default: ${DEFAULT-VALUE})")
    List<String> types;

    @Option(names = "--matrix-mib", defaultValue = "256", description = "size of each format's matrix (default: ${DEFAULT-VALUE})")
    long matrixMiB;

    @Option(names = "--json", description = "print JSON")
    boolean json;

    @Override
    @SuppressWarnings("unchecked")
    public Integer call() {
        List<GgmlType> ts = new ArrayList<>();
        for (String s : types) {
            ts.add(ModelCommand.type(s.trim()));
        }
        int t = threads == 0 ? Runtime.getRuntime().availableProcessors() : threads;
        Map<String, Object> r = KernelBenchmark.run(ts, t, matrixMiB, new int[] {8, 32, 128},
                new Progress("bench kernels")::update);
        if (json) {
            System.out.println(Json.write(r));
            return 0;
        }
        System.out.printf("kernels: %s; threads: 1 and %d%n", r.get("kernels"), t);
        System.out.printf("memory read bandwidth: %.1f GB/s (1 thread), %.1f GB/s (%d threads)%n",
                r.get("read_gbps_1_thread"), r.get("read_gbps_all_threads"), t);
        System.out.printf("%-6s %10s %10s %10s %10s   %s%n", "type", "1t GB/s", "ratio", "all GB/s", "ratio", "mat-mat GFLOP/s (8/32/128 tokens)");
        for (Map<String, Object> f : (List<Map<String, Object>>) r.get("formats")) {
            Map<String, Object> mm = (Map<String, Object>) f.get("matmat_gflops_all_threads");
            System.out.printf("%-6s %10.1f %9.0f%% %10.1f %9.0f%%   %.1f / %.1f / %.1f%n", f.get("type"),
                    f.get("matvec_gbps_1_thread"), 100 * (double) f.get("ratio_1_thread"),
                    f.get("matvec_gbps_all_threads"), 100 * (double) f.get("ratio_all_threads"),
                    mm.get("8"), mm.get("32"), mm.get("128"));
        }
        return 0;
    }
}
