package moed.runtime.config;

import java.nio.file.Path;
import moed.cache.Backing;
import moed.cache.EvictionPolicy;
import moed.cache.ExpertCache;
import moed.predictor.PredictorKind;

/**
 * How experts are served, in three named parts: the resident {@link Tier} (none: experts are read in place from the
 * mapped file), the {@link Statistics} persisted across runs, and the {@link Prefetch} by prediction.
 */
public record CacheOptions(Tier tier, Statistics statistics, Prefetch prefetch) {
    /** Experts read in place, no statistics, no prefetching. */
    public static final CacheOptions NONE = new CacheOptions(Tier.NONE, Statistics.NONE, Prefetch.NONE);

    /**
     * A resident tier of {@code budgetBytes} (0: none) over {@code backing}, evicting by {@code policy}; a miss waits
     * for its load or (mmap backing) is computed from the mapped file while it loads; {@code ioThreads} loaders.
     */
    public record Tier(long budgetBytes, Backing backing, EvictionPolicy.Kind policy, ExpertCache.OnMiss onMiss, int ioThreads) {
        public static final Tier NONE = new Tier(0, Backing.MMAP, EvictionPolicy.Kind.LRU, ExpertCache.OnMiss.WAIT, 2);

        public Tier {
            if (budgetBytes < 0) {
                throw new SettingException(Setting.CACHE_SIZE, "the expert cache size must be positive, got " + budgetBytes + " bytes");
            }
            if (ioThreads < 1) {
                throw new SettingException(Setting.IO_THREADS, "the expert cache needs at least one loader thread, got " + ioThreads);
            }
            if (onMiss == ExpertCache.OnMiss.DIRECT && backing != Backing.MMAP) {
                throw new SettingException(Setting.ON_MISS, "computing a missed expert from the mapped file needs the mmap backing");
            }
        }

        /** A tier of {@code budgetBytes} with the default backing (mmap), policy (lru), on-miss (wait) and 2 loaders. */
        public static Tier of(long budgetBytes) {
            return new Tier(budgetBytes, Backing.MMAP, EvictionPolicy.Kind.LRU, ExpertCache.OnMiss.WAIT, 2);
        }
    }

    /**
     * Statistics persisted under {@code stateDir} (null: none), flushed every {@code flushMillis}; at start the
     * historically hottest experts are loaded up to {@code warmFraction} of the cache.
     */
    public record Statistics(Path stateDir, double warmFraction, long flushMillis) {
        public static final Statistics NONE = new Statistics(null, 0, 5000);

        public Statistics {
            if (!(warmFraction >= 0 && warmFraction <= 1)) {
                throw new SettingException(Setting.WARM_FRACTION, "the warm fraction must be in [0, 1], got " + warmFraction);
            }
        }
    }

    /** Prefetching by {@code predictor}, {@code lookahead} layers ahead, {@code margin} experts beyond top-k. */
    public record Prefetch(PredictorKind predictor, int lookahead, int margin) {
        public static final Prefetch NONE = new Prefetch(PredictorKind.NONE, 1, 0);

        public Prefetch {
            if (predictor == PredictorKind.PRIOR) {
                throw new SettingException(Setting.PREDICTOR, "prefetching takes the none, gate or gate+prior predictor, got prior");
            }
            if (lookahead < 1 || lookahead > 2) {
                throw new SettingException(Setting.LOOKAHEAD, "the look-ahead must be 1 or 2 layers, got " + lookahead);
            }
            if (margin < 0) {
                throw new SettingException(Setting.PREFETCH_MARGIN, "the prefetch margin must be >= 0, got " + margin);
            }
        }
    }

    public CacheOptions {
        if (prefetch.predictor() != PredictorKind.NONE && tier.budgetBytes() == 0) {
            throw new SettingException(Setting.PREDICTOR, "the predictor prefetches into the expert cache: give the cache a size too");
        }
    }

    /** Experts served through a resident tier as {@code tier} says, with no statistics or prefetching. */
    public static CacheOptions of(Tier tier) {
        return new CacheOptions(tier, Statistics.NONE, Prefetch.NONE);
    }

    public boolean cached() {
        return tier.budgetBytes() > 0;
    }

    public CacheOptions with(Statistics s) {
        return new CacheOptions(tier, s, prefetch);
    }

    public CacheOptions with(Prefetch p) {
        return new CacheOptions(tier, statistics, p);
    }
}
