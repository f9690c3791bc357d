package moed.runtime;

import java.nio.file.Path;
import moed.cache.ExpertCache;

/**
 * How experts are served. {@code budgetBytes} 0 means no cache: experts are read in place from the mapped file.
 * Otherwise a resident tier of that many bytes over the backing ("mmap" or "direct"), evicting by
 * {@code policy} (lru, lfu, heat), statistics under {@code stateDir} (null: none), warmed at start with the
 * historically hottest experts up to {@code warmFraction} of the budget.
 */
public record CacheOptions(long budgetBytes, String backing, String policy, Path stateDir, ExpertCache.OnMiss onMiss,
                           int ioThreads, double warmFraction, long flushMillis, String predictor, int lookahead,
                           int prefetchMargin) {
    public static final CacheOptions NONE = new CacheOptions(0, "mmap", "lru", null, ExpertCache.OnMiss.WAIT, 2, 0.5, 5000);

    public CacheOptions(long budgetBytes, String backing, String policy, Path stateDir, ExpertCache.OnMiss onMiss,
                        int ioThreads, double warmFraction, long flushMillis) {
        this(budgetBytes, backing, policy, stateDir, onMiss, ioThreads, warmFraction, flushMillis, "none", 1, 0);
    }

    public CacheOptions {
        if (budgetBytes < 0) {
            throw new IllegalArgumentException("cache size must be positive");
        }
        if (!backing.equals("mmap") && !backing.equals("direct")) {
            throw new IllegalArgumentException("--backing must be mmap or direct, got '" + backing + "'");
        }
        if (!predictor.equals("none") && !predictor.equals("gate") && !predictor.equals("gate+prior")) {
            throw new IllegalArgumentException("--predictor must be none, gate or gate+prior, got '" + predictor + "'");
        }
        if (lookahead < 1 || lookahead > 2) {
            throw new IllegalArgumentException("--lookahead must be 1 or 2, got " + lookahead);
        }
        if (!(warmFraction >= 0 && warmFraction <= 1)) {
            throw new IllegalArgumentException("warm fraction must be in [0, 1], got " + warmFraction);
        }
    }

    public boolean cached() {
        return budgetBytes > 0;
    }

    public CacheOptions withStateDir(Path dir) {
        return new CacheOptions(budgetBytes, backing, policy, dir, onMiss, ioThreads, warmFraction, flushMillis, predictor, lookahead, prefetchMargin);
    }

    public CacheOptions withPredictor(String name, int ahead) {
        return new CacheOptions(budgetBytes, backing, policy, stateDir, onMiss, ioThreads, warmFraction, flushMillis, name, ahead, prefetchMargin);
    }
}
