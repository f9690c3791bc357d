package moed.tools.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import moed.cache.CacheCounters;
import moed.runtime.Engine;
import moed.runtime.StopReason;
import moed.runtime.sampling.SamplerConfig;
import moed.runtime.serve.BatchScheduler;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code moed bench batch}: what continuous batching buys: aggregate decode tokens/s and expert bytes per token. */
@Command(name = "batch", mixinStandardHelpOptions = true,
        description = "Decode N sequences together through the serving scheduler and report aggregate tokens/s and, with"
                + " a cache, expert MB read per token, for each N.")
final class BatchBench implements Callable<Integer> {
    @Mixin
    ModelOptions opts;

    @Mixin
    CacheFlags cacheFlags;

    @Mixin
    RoutingFlags routingFlags;

    @Option(names = "--sequences", split = ",", defaultValue = "1,2,4,8", description = "concurrencies to measure (default: ${DEFAULT-VALUE})")
    List<Integer> sequences;

    @Option(names = {"-n", "--n-gen"}, defaultValue = "32", description = "tokens per sequence (default: ${DEFAULT-VALUE})")
    int gen;

    @Option(names = "--json", description = "print JSON")
    boolean json;

    static final String[] PROMPTS = {
        "The old king looked at the sea and said", "Once upon a time there was a little girl who", "The ship sailed",
        "She opened the door and", "The wind", "He walked to the market with his father, and",
        "Long ago, in a land far away, there lived", "The cat sat by the fire and",
    };

    @Override
    public Integer call() throws Exception {
        List<Map<String, Object>> rows = new ArrayList<>();
        try (Engine e = routingFlags.open(opts, opts.context, opts.batch(), cacheFlags.options())) {
            e.startupReport().forEach(l -> System.err.println("moed: " + l));
            int max = sequences.stream().mapToInt(Integer::intValue).max().orElse(1);
            run(e, Math.min(2, max), 4); // warm-up: JIT and cache
            for (int n : sequences) {
                if (n < 1) {
                    throw new IllegalArgumentException("--sequences must be >= 1");
                }
                CacheCounters before = e.cache() != null ? e.cache().counters() : null;
                long nanos = run(e, n, gen);
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("sequences", n);
                row.put("tokens", (long) n * gen);
                row.put("seconds", nanos / 1e9);
                row.put("tokens_per_s", n * (double) gen / (nanos / 1e9));
                if (before != null) {
                    CacheCounters d = e.cache().counters().since(before);
                    row.put("expert_accesses_per_token", d.accesses() / (double) (n * gen));
                    row.put("mb_read_per_token", d.bytesLoaded / 1e6 / (n * gen));
                    row.put("hit_rate", d.accesses() == 0 ? 1.0 : d.hitRate());
                }
                rows.add(row);
                if (!json) {
                    System.out.printf("%2d sequences: %6.1f tokens/s aggregate (%d tokens in %.2f s)%s%n", n,
                            (double) row.get("tokens_per_s"), n * gen, nanos / 1e9, before == null ? ""
                                    : String.format(" | %.1f expert accesses/token, %.2f MB read/token, hit %.1f%%",
                                    (double) row.get("expert_accesses_per_token"), (double) row.get("mb_read_per_token"),
                                    100 * (double) row.get("hit_rate")));
                }
            }
        }
        if (json) {
            System.out.println(Json.write(rows));
        }
        return 0;
    }

    /** Prefill and decode n sequences together; returns the wall time. */
    private static long run(Engine e, int n, int gen) throws InterruptedException {
        BatchScheduler s = new BatchScheduler(e, n);
        CountDownLatch left = new CountDownLatch(n);
        String[] errors = new String[1];
        for (int i = 0; i < n; i++) {
            s.submit(PROMPTS[i % PROMPTS.length], new BatchScheduler.Params(gen, SamplerConfig.GREEDY, List.of()),
                    new BatchScheduler.Stream() {
                        @Override
                        public void token(int id, String piece) {
                        }

                        @Override
                        public void done(StopReason reason, int p, int g, long pn, long dn) {
                            left.countDown();
                        }

                        @Override
                        public void error(String code, String message) {
                            errors[0] = message;
                            left.countDown();
                        }
                    });
        }
        long t0 = System.nanoTime();
        while (left.getCount() > 0) {
            s.runOnce();
        }
        if (errors[0] != null) {
            throw new IllegalArgumentException(errors[0]);
        }
        return System.nanoTime() - t0;
    }
}
