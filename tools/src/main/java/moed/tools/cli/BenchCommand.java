package moed.tools.cli;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import moed.kernels.Dot;
import moed.kernels.Ops;
import moed.runtime.Engine;
import moed.runtime.StepPhase;
import moed.runtime.model.InferenceState;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code moed bench}: prefill and decode tokens/s as llama-bench measures them (pp: a prompt of p tokens from an
 * empty cache; tg: n single-token steps from an empty cache), median of repetitions.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measure prefill and decode tokens/s (median of runs); 'bench kernels' measures kernel GB/s.",
        subcommands = {KernelBench.class, PredictorBench.class, BatchBench.class})
final class BenchCommand implements Callable<Integer> {
    @Mixin
    ModelOptions opts;

    @Mixin
    CacheFlags cacheFlags;

    @Mixin
    RoutingFlags routingFlags;

    @Option(names = {"-p", "--n-prompt"}, defaultValue = "64", description = "prompt tokens for prefill (default: ${DEFAULT-VALUE})")
    int prompt;

    @Option(names = {"-n", "--n-gen"}, defaultValue = "32", description = "tokens for decode (default: ${DEFAULT-VALUE})")
    int gen;

    @Option(names = {"-d", "--depth"}, defaultValue = "0",
            description = "tokens already in the KV cache when decode is timed, as llama-bench's -d (default: ${DEFAULT-VALUE})")
    int depth;

    @Option(names = {"-r", "--repetitions"}, defaultValue = "3", description = "runs of each test (default: ${DEFAULT-VALUE})")
    int reps;

    @Option(names = "--json", description = "print JSON")
    boolean json;

    @Option(names = "--warmup-s", defaultValue = "60",
            description = "before timing, decode until the JIT compiler is quiet, for at most this many seconds (0: one"
                    + " prompt and 8 tokens only; default: ${DEFAULT-VALUE})")
    double warmupSeconds;

    /** Compilation time a warm-up round may still add (milliseconds, all compiler threads) for the JIT to count as quiet. */
    private static final long QUIET_MS = 100;

    @Override
    public Integer call() throws Exception {
        if (prompt < 1 || gen < 1 || reps < 1 || depth < 0) {
            throw new IllegalArgumentException("-p, -n and -r must be at least 1, -d at least 0");
        }
        // The disk as the loaders will use it, measured before the run: afterwards a virtual disk's host may still
        // cache what the run read, and the figure would be its memory's.
        double diskGbps = cacheFlags.backing == moed.cache.Backing.DIRECT && cacheFlags.hasCache()
                ? moed.cache.DirectBackingStore.measureReadGbps(opts.model(), 1L << 30, cacheFlags.ioThreads) : Double.NaN;
        try (Engine e = routingFlags.open(opts, Math.max(opts.context, Math.max(prompt, depth) + gen + 1), Math.max(opts.batch(), 1),
                cacheFlags.options())) {
            e.startupReport().forEach(l -> System.err.println("moed: " + l));
            if (cacheFlags.jfr != null) {
                e.startRecording(cacheFlags.jfr);
            }
            int vocab = e.model().config().vocab();
            // Every routed expert from the first step on, replayed afterwards through LRU, the live policy and
            // Belady's optimum: the replays see the same history as the live cache, and count the timed decode's.
            RoutingTrace trace = e.cache() != null ? new RoutingTrace(e.model().config().experts(), e::cachesLayer) : null;
            if (trace != null) {
                e.observe(trace);
            }
            SplittableRandom rnd = new SplittableRandom(7);
            int[] tokens = randomTokens(rnd, prompt, vocab);
            InferenceState s = e.newState();
            // Warm-up: one prompt, then 8-token decodes until the JIT has compiled the kernels (llama-bench's warm-up
            // run has nothing to compile; timing moed while C2 still compiles on the same two cores measures the JIT).
            long w0 = System.nanoTime();
            int warmRounds = warmUp(e, s, tokens, gen, warmupSeconds);
            double warmSeconds = (System.nanoTime() - w0) / 1e9;
            System.err.printf("moed bench: warm-up %d round%s, %.1f s%n", warmRounds, warmRounds == 1 ? "" : "s", warmSeconds);
            // Decode is timed on its own state holding `depth` random tokens (filled once, untimed).
            InferenceState deep = depth == 0 ? s : e.newState();
            if (depth > 0) {
                e.prefill(deep, randomTokens(rnd, depth, vocab));
            }
            moed.cache.CacheCounters c0 = e.cache() != null ? e.cache().counters() : null;
            long decodeNanos = 0;
            List<Double> pp = new ArrayList<>();
            List<Double> tg = new ArrayList<>();
            Progress bar = new Progress("bench");
            for (int r = 0; r < reps; r++) {
                s.reset();
                moed.cache.CacheCounters p0 = e.cache() != null ? e.cache().counters() : null;
                long t0 = System.nanoTime();
                e.prefill(s, tokens);
                pp.add(prompt / ((System.nanoTime() - t0) / 1e9));
                if (p0 != null) {
                    CacheFigures.add(prefillCache, p0, e.cache().counters());
                }
                deep.rewind(depth);
                moed.cache.CacheCounters d0 = e.cache() != null ? e.cache().counters() : null;
                if (trace != null) {
                    trace.counting(true);
                }
                long t1 = System.nanoTime();
                decode(e, deep, gen);
                long dt = System.nanoTime() - t1;
                if (trace != null) {
                    trace.counting(false);
                }
                tg.add(gen / (dt / 1e9));
                decodeNanos += dt;
                if (d0 != null) {
                    CacheFigures.add(decodeCache, d0, e.cache().counters());
                }
                bar.update(r + 1, reps);
            }
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("model", opts.model().toString());
            out.put("weights_type", e.model().mainType().name());
            out.put("threads", e.threads());
            out.put("kernels", Dot.describe());
            out.put("prefill_tokens", prompt);
            out.put("decode_tokens", gen);
            out.put("decode_depth", depth);
            out.put("prefill_tokens_per_s", median(pp));
            out.put("decode_tokens_per_s", median(tg));
            out.put("prefill_runs", pp);
            out.put("decode_runs", tg);
            out.put("warmup_rounds", warmRounds);
            out.put("warmup_s", warmSeconds);
            if (c0 != null) {
                Map<String, Object> cache = new LinkedHashMap<>();
                if (!Double.isNaN(diskGbps)) {
                    cache.put("disk_direct_read_gbps", diskGbps);
                }
                cache.putAll(CacheFigures.decode(e, decodeCache, (long) gen * reps, decodeNanos));
                // What one timed prompt read: with the disk's rate, the bound on prefill when every read is on the
                // critical path (a prompt's experts are known only at each layer's routing).
                cache.put("prefill_mb_read_per_prompt", prefillCache.bytesLoaded / 1e6 / reps);
                cache.put("prefill_stall_ms_per_prompt", prefillCache.stallNanos / 1e6 / reps);
                e.observe(null);
                cache.putAll(trace.replay(e.cache()));
                out.put("cache", cache);
            }
            if (json) {
                System.out.println(Json.write(out));
            } else {
                System.out.printf("%s (%s), %d threads, %s%n", opts.model().getFileName(), e.model().mainType(), e.threads(), Dot.describe());
                System.out.printf("pp%-4d %8.1f tokens/s  (runs %s)%n", prompt, median(pp), fmt(pp));
                System.out.printf("tg%-4d %8.1f tokens/s  (runs %s)%s%n", gen, median(tg), fmt(tg),
                        depth > 0 ? " after " + depth + " tokens of context" : "");
                if (out.get("cache") instanceof Map<?, ?> cm) {
                    System.out.printf("decode with the cache: experts resident when routed %.1f%%, prefetched in time %.1f%%,"
                                    + " prefetched late %.1f%%, loaded on demand %.1f%%%n",
                            100 * (double) cm.get("decode_hit_rate"), 100 * (double) cm.get("decode_prefetch_in_time_rate"),
                            100 * (double) cm.get("decode_prefetch_late_rate"), 100 * (double) cm.get("decode_demand_rate"));
                    System.out.printf("stall %.2f ms/token, %.2f MB read/token (%.2f ms/token in all), backing reads at %.2f GB/s%n",
                            (double) cm.get("decode_stall_ms_per_token"),
                            (double) cm.get("decode_mb_read_per_token"), (double) cm.get("decode_ms_per_token"),
                            (double) cm.get("backing_read_gbps"));
                    System.out.printf("same decode accesses replayed at this capacity (no prefetch): LRU %.1f%%, %s %.1f%%,"
                                    + " Belady's optimum %.1f%%%n", 100 * (double) cm.get("replay_lru_hit_rate"), cm.get("policy"),
                            100 * (double) cm.get("replay_policy_hit_rate"), 100 * (double) cm.get("replay_belady_hit_rate"));
                    if (cm.get("disk_direct_read_gbps") != null) {
                        System.out.printf("disk O_DIRECT reads (4 MiB at random offsets, one reader per loader thread): %.2f GB/s%n", (double) cm.get("disk_direct_read_gbps"));
                    }
                }
            }
        }
        return 0;
    }

    /** The cache's counters summed over the timed decode phases, and over the timed prompts. */
    private final moed.cache.CacheCounters decodeCache = new moed.cache.CacheCounters(0);
    private final moed.cache.CacheCounters prefillCache = new moed.cache.CacheCounters(0);

    private static int[] randomTokens(SplittableRandom rnd, int n, int vocab) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = rnd.nextInt(vocab);
        }
        return t;
    }

    /**
     * One prompt and up to 8 decode steps, then more such decode rounds (from the prompt again) until a second or more
     * of them added at most {@link #QUIET_MS} of compilation, or {@code maxSeconds} passed. Returns the rounds run.
     */
    private static int warmUp(Engine e, InferenceState s, int[] tokens, int gen, double maxSeconds) {
        java.lang.management.CompilationMXBean jit = java.lang.management.ManagementFactory.getCompilationMXBean();
        boolean measurable = jit != null && jit.isCompilationTimeMonitoringSupported();
        long end = System.nanoTime() + (long) (maxSeconds * 1e9);
        e.prefill(s, tokens);
        int rounds = 0;
        long windowStart = System.nanoTime();
        long compiledAtStart = measurable ? jit.getTotalCompilationTime() : 0;
        while (true) {
            s.rewind(tokens.length);
            decode(e, s, Math.min(gen, 8));
            rounds++;
            long now = System.nanoTime();
            if (!measurable || now >= end) {
                return rounds;
            }
            if (now - windowStart >= 1_000_000_000L) {
                long compiled = jit.getTotalCompilationTime();
                if (compiled - compiledAtStart <= QUIET_MS) {
                    return rounds;
                }
                windowStart = now;
                compiledAtStart = compiled;
            }
        }
    }

    /** n single-token steps, each feeding back the argmax, as a greedy decode does. */
    private static void decode(Engine e, InferenceState s, int n) {
        int[] one = {1};
        for (int i = 0; i < n; i++) {
            e.step(s, one, 0, 1, 0, StepPhase.DECODE);
            float[] l = s.logits(0);
            one[0] = Ops.argmax(l, 0, e.model().config().vocab());
        }
    }

    static double median(List<Double> xs) {
        double[] a = xs.stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(a);
        return a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
    }

    static String fmt(List<Double> xs) {
        StringBuilder sb = new StringBuilder();
        for (double x : xs) {
            sb.append(sb.length() == 0 ? "" : ", ").append(String.format("%.1f", x));
        }
        return sb.toString();
    }
}
