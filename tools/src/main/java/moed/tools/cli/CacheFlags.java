package moed.tools.cli;

import java.nio.file.Path;
import java.nio.file.Paths;
import moed.cache.Backing;
import moed.cache.EvictionPolicy;
import moed.cache.ExpertCache;
import moed.predictor.PredictorKind;
import moed.runtime.config.CacheOptions;
import picocli.CommandLine.Option;

/** The expert-cache flags shared by run, bench and serve. */
final class CacheFlags {
    @Option(names = "--cache-gb", description = "resident expert cache size in GiB (default: no cache, experts read in place from the mapped file)")
    Double cacheGb;

    @Option(names = "--cache-mb", description = "resident expert cache size in MiB (for small models)")
    Double cacheMb;

    @Option(names = "--backing", defaultValue = "mmap", description = "where missed experts are read from: mmap (page cache) or direct (O_DIRECT reads) (default: ${DEFAULT-VALUE})")
    Backing backing;

    @Option(names = "--cache-policy", defaultValue = "lru", description = "eviction policy: lru, lfu (with ageing) or heat (persisted statistics) (default: ${DEFAULT-VALUE})")
    EvictionPolicy.Kind policy;

    @Option(names = "--on-miss", defaultValue = "wait", description = "wait for the load, or (mmap backing) compute the missed expert from the mapped file while it loads: wait or direct (default: ${DEFAULT-VALUE})")
    ExpertCache.OnMiss onMiss;

    @Option(names = "--io-threads", defaultValue = "2", description = "expert loader threads (default: ${DEFAULT-VALUE})")
    int ioThreads;

    @Option(names = "--state-dir", description = "where statistics persist across runs (default: ~/.moed)")
    Path stateDir;

    @Option(names = "--no-stats", description = "do not read or write persisted statistics")
    boolean noStats;

    @Option(names = "--warm", defaultValue = "0.5", description = "fraction of the cache to fill at start with the historically hottest experts (default: ${DEFAULT-VALUE})")
    double warm;

    @Option(names = "--predictor", defaultValue = "none", description = "prefetch by prediction: none (load on demand), gate (look-ahead through the next layer's router) or gate+prior (with transition and recency priors) (default: ${DEFAULT-VALUE})")
    PredictorKind predictor;

    @Option(names = "--lookahead", defaultValue = "1", description = "layers predicted ahead: 1 or 2 (default: ${DEFAULT-VALUE})")
    int lookahead;

    @Option(names = "--prefetch-margin", defaultValue = "0", description = "extra experts prefetched beyond top-k while the predicted probability mass is below 0.9 (default: ${DEFAULT-VALUE})")
    int margin;

    @Option(names = "--jfr", description = "record moed's JFR events (routing, cache, loads, steps) to this file; read it with 'moed analyze'")
    Path jfr;

    static Path defaultStateDir() {
        return Paths.get(System.getProperty("user.home"), ".moed");
    }

    /** Whether a cache size was given (else experts are read in place). */
    boolean hasCache() {
        return cacheGb != null || cacheMb != null;
    }

    CacheOptions options() {
        if (cacheGb != null && cacheMb != null) {
            throw new IllegalArgumentException("give --cache-gb or --cache-mb, not both");
        }
        long bytes = cacheGb != null ? (long) (cacheGb * (1L << 30)) : cacheMb != null ? (long) (cacheMb * (1L << 20)) : 0;
        if (hasCache() && bytes <= 0) {
            throw new IllegalArgumentException("the cache size must be positive");
        }
        Path dir = noStats ? null : stateDir != null ? stateDir : defaultStateDir();
        return new CacheOptions(new CacheOptions.Tier(bytes, backing, policy, onMiss, ioThreads),
                new CacheOptions.Statistics(dir, warm, 5000), new CacheOptions.Prefetch(predictor, lookahead, margin));
    }
}
