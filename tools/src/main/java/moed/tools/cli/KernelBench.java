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

    /** The formats of llama.cpp's low-bit quantizations of large MoE models (issue 24's list), by name. */
    static final String LOW_BIT = "Q2_K,Q3_K,IQ1_S,IQ1_M,IQ2_XXS,IQ2_XS,IQ2_S,IQ3_XXS,IQ3_S,IQ4_XS";
    static final String DEFAULT = "F32,F16,BF16,Q8_0,Q4_0,Q4_1,Q5_0,Q5_1,Q4_K,Q5_K,Q6_K";

    @Option(names = "--types", split = ",", defaultValue = DEFAULT,
            description = "formats to measure, or 'low-bit' (" + LOW_BIT + ") or 'all' (the default list and those)"
                    + " (default: ${DEFAULT-VALUE})")
    List<String> types;

    @Option(names = "--matrix-mib", defaultValue = "256", description = "size of each format's matrix (default: ${DEFAULT-VALUE})")
    long matrixMiB;

    @Option(names = "--json", description = "print JSON")
    boolean json;

    @Override
    @SuppressWarnings("unchecked")
    public Integer call() {
        List<GgmlType> ts = formats(types);
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

    /** The formats named, in order, once each; 'low-bit' and 'all' stand for their lists. */
    static List<GgmlType> formats(List<String> names) {
        List<GgmlType> ts = new ArrayList<>();
        for (String name : names) {
            String n = name.trim();
            String list = n.equalsIgnoreCase("low-bit") ? LOW_BIT : n.equalsIgnoreCase("all") ? DEFAULT + "," + LOW_BIT : n;
            for (String one : list.split(",")) {
                GgmlType t = ModelCommand.type(one);
                if (!ts.contains(t)) {
                    ts.add(t);
                }
            }
        }
        return ts;
    }
}
