package moed.runtime;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import moed.cache.ExpertCache;
import moed.cache.ExpertLayout;
import moed.cache.ExpertSource;
import moed.cache.ExpertStatistics;
import moed.cache.LayeredExpertSource;
import moed.cache.MappedExpertSource;
import moed.kernels.NativeMemory;
import moed.cache.SlotClass;
import moed.cache.StatisticsStore;
import moed.runtime.config.CacheOptions;
import moed.runtime.gguf.GgufFile;
import moed.runtime.model.Model;

/**
 * How a model's experts reach the forward pass, wired from {@link CacheOptions} and {@link TensorOverrides}: read in
 * place from the mapped file, or through a bounded {@link ExpertCache} (with the layers a rule pins read in place),
 * with routing statistics persisted across runs when a state directory is given. Dense models have none of this.
 */
final class ExpertServing implements AutoCloseable {
    /** What the forward pass reads experts through; null for a dense model. */
    final ExpertSource source;
    /** The resident tier, or null when experts are read in place. */
    final ExpertCache cache;
    /** Routing statistics of this run and their persisted store, or null without a state directory. */
    final ExpertStatistics statistics;
    final StatisticsStore store;
    /** Layers whose experts a tensor override pins in place (never through the cache). */
    final boolean[] pinnedLayers;

    private ExpertServing(ExpertSource source, ExpertCache cache, ExpertStatistics statistics, StatisticsStore store,
                          boolean[] pinnedLayers) {
        this.source = source;
        this.cache = cache;
        this.statistics = statistics;
        this.store = store;
        this.pinnedLayers = pinnedLayers;
    }

    static ExpertServing open(Path path, GgufFile f, Model m, CacheOptions options, TensorOverrides overrides) throws IOException {
        var c = m.config();
        boolean[] pinned = overrides.pinnedExpertLayers(f, c.layers());
        if (!c.isMoe()) {
            return new ExpertServing(null, null, null, null, pinned);
        }
        ExpertCache cache = null;
        StatisticsStore store = null;
        try {
            ExpertStatistics stats = null;
            Path stateDir = options.statistics().stateDir();
            if (stateDir != null) {
                store = StatisticsStore.open(stateDir, m.identity(), c.layers(), c.experts());
                stats = new ExpertStatistics(c.layers(), c.experts(), c.expertsUsed());
            }
            ExpertSource source;
            if (options.cached()) {
                CacheOptions.Tier t = options.tier();
                double[] heat = store != null ? store.heat() : null;
                ExpertLayout served = servedByCache(m.expertLayout(), pinned);
                cache = new ExpertCache(served, t.backing().open(path, served),
                        t.policy().create(c.layers() * c.experts(), heat), t.budgetBytes(), c.expertsUsed(), t.onMiss(),
                        t.ioThreads());
                source = anyTrue(pinned) ? new LayeredExpertSource(cache, new MappedExpertSource(m.expertLayout()), pinned) : cache;
            } else {
                // In place: experts of the interleaved formats are copied once into the layout decode reads rows as lanes
                // (unless turned off), when the copies take at most half the memory (a cgroup's limit where one is
                // set) and fit in what the JVM still lets moed allocate: a model that only fits in memory once is
                // read where it lies.
                long memory = ((com.sun.management.OperatingSystemMXBean)
                        java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getTotalMemorySize();
                source = MappedExpertSource.interleaved(m.expertLayout(), Math.min(memory / 2, NativeMemory.room()));
            }
            if (store != null) {
                ExpertCache cc = cache;
                store.attach(stats, cc != null ? cc::counters : null, options.statistics().flushMillis());
            }
            return new ExpertServing(source, cache, stats, store, pinned);
        } catch (RuntimeException | IOException e) {
            if (cache != null) {
                cache.close();
            }
            if (store != null) {
                store.close();
            }
            throw e;
        }
    }

    /**
     * The experts the cache serves: not those of the layers a rule pins in place, so that none of its budget goes to
     * them. When every expert layer is pinned nothing reaches the cache, and it is given them all rather than none.
     */
    private static ExpertLayout servedByCache(ExpertLayout all, boolean[] pinned) {
        ExpertLayout served = all.withoutLayers(pinned);
        return served.entryCount() > 0 ? served : all;
    }

    /**
     * The start-up line about memory: budget, expert size, how many fit, pinned bytes; null without a cache. When the
     * layers' experts differ in size, how many fit of each size (the cache's size classes).
     */
    String describe(Model model, String prefetch) {
        if (cache == null) {
            return null;
        }
        // The experts the cache serves: layers pinned in place take none of its slots.
        var layout = cache.layout();
        List<SlotClass> classes = cache.slotClasses();
        String sizes = classes.size() == 1 ? String.format("one expert is %.3f MiB", layout.maxExpertBytes() / 1048576.0)
                : String.format("experts come in %d sizes, each with its share of the budget: %s", classes.size(),
                        SlotClass.describe(classes));
        return String.format(
                "expert cache: %.1f MiB budget (%s backing, %s policy, on miss: %s, predictor: %s); %s, so %d of %d experts fit (%.0f%%); pinned (non-expert) weights %.1f MiB",
                cache.budgetBytes() / 1048576.0, cache.backingName(), cache.policyName(), cache.onMiss().name().toLowerCase(),
                prefetch, sizes, cache.slotCount(), layout.entryCount(),
                100.0 * cache.slotCount() / layout.entryCount(), model.pinnedBytes() / 1048576.0);
    }

    /**
     * Starts loading the historically hottest experts, up to {@code fraction} of the cache's slots (loads run in the
     * background); returns the start-up line saying so, or null when there is no cache, no statistics or nothing to do.
     */
    String warmStart(double fraction) {
        if (cache == null || store == null || fraction <= 0) {
            return null;
        }
        int limit = (int) (cache.slotCount() * fraction);
        int warmed = 0;
        for (int[] h : store.hottest()) {
            if (warmed >= limit) {
                break;
            }
            if (cache.warm(h[0], h[1])) {
                warmed++;
            }
        }
        return String.format("warm start: loading the %d historically hottest experts (statistics: %s)", warmed, store.file());
    }

    private static boolean anyTrue(boolean[] a) {
        for (boolean b : a) {
            if (b) {
                return true;
            }
        }
        return false;
    }

    @Override
    public void close() {
        if (source != null) {
            source.close();
        }
        if (store != null) {
            store.close();
        }
    }
}
