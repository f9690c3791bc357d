package moed.cache;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import net.openhft.chronicle.map.ChronicleMap;
import net.openhft.chronicle.map.ChronicleMapBuilder;

/**
 * Statistics persisted across runs in an off-heap Chronicle Map file, one file per model (named by the model's
 * identity) under the state directory. Two kinds of entries, keyed by a long:
 * <ul>
 *   <li>{@code expertKey(layer, expert)} -> [activations, hits, misses, stallNanos, prefetchUsed, prefetchWasted,
 *       prefetchHits, prefetchLate] (accesses counted as {@link CacheCounters} does; the last two were added later,
 *       so older files have shorter entries, which read as zeros there and grow on the next flush);</li>
 *   <li>{@code transitionKey(layer, from)} -> counts of each expert of the next MoE layer following "from".</li>
 * </ul>
 * The hot path never touches the map: counts accumulate in {@link ExpertStatistics} and {@link CacheCounters}
 * and a flusher adds the growth since the previous flush every interval and at close. A process killed with
 * SIGKILL loses at most one interval; Chronicle Map's recovery reopens the file cleanly.
 *
 * <p>Thread safety: flush and close are synchronized; reading methods may run any time.
 */
public final class StatisticsStore implements AutoCloseable {
    public static final int ACTIVATIONS = 0;
    public static final int HITS = 1;
    public static final int MISSES = 2;
    public static final int STALL_NANOS = 3;
    public static final int PREFETCH_USED = 4;
    public static final int PREFETCH_WASTED = 5;
    public static final int PREFETCH_HITS = 6;
    public static final int PREFETCH_LATE = 7;
    public static final String[] FIELDS = {"activations", "hits", "misses", "stall_nanos", "prefetch_used", "prefetch_wasted",
            "prefetch_hits", "prefetch_late"};

    private final Path file;
    private final int layers;
    private final int experts;
    private final ChronicleMap<Long, long[]> map;
    private ExpertStatistics stats;
    private java.util.function.Supplier<CacheCounters> cacheCounters;
    private long[] flushedActivations;
    private long[][] flushedTransitions;
    private CacheCounters flushedCache;
    private ScheduledExecutorService flusher;

    private StatisticsStore(Path file, int layers, int experts, ChronicleMap<Long, long[]> map) {
        this.file = file;
        this.layers = layers;
        this.experts = experts;
        this.map = map;
    }

    /**
     * Opens (creating or recovering) the statistics of the model identified by {@code modelId}. They say what was
     * asked of the model, so they are the user's alone: the directory is created 0700 and the file is 0600.
     */
    public static StatisticsStore open(Path stateDir, String modelId, int layers, int experts) throws IOException {
        boolean posix = stateDir.getFileSystem().supportedFileAttributeViews().contains("posix");
        if (posix) {
            // An existing directory is the user's choice and keeps its mode; the file below is private either way.
            Files.createDirectories(stateDir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } else {
            Files.createDirectories(stateDir);
        }
        Path file = stateDir.resolve("stats-" + modelId + ".cmap");
        boolean existing = Files.exists(file) && Files.size(file) > 0;
        if (posix) {
            // Created private before Chronicle Map writes a byte (it would create it 0644 under the usual umask);
            // one an older version left readable to all is tightened.
            Set<PosixFilePermission> owner = PosixFilePermissions.fromString("rw-------");
            if (Files.exists(file)) {
                Files.setPosixFilePermissions(file, owner);
            } else {
                Files.createFile(file, PosixFilePermissions.asFileAttribute(owner));
            }
        }
        ChronicleMapBuilder<Long, long[]> b = ChronicleMapBuilder.of(Long.class, long[].class)
                .name("moed-stats-" + modelId)
                .entries(Math.max(64, 2L * layers * experts + 16))
                .averageValue(new long[Math.max(FIELDS.length, experts)]);
        // Recovery (rather than a plain open) repairs a file whose writer was killed mid-update; moed is the file's
        // only user while it runs, which is the condition recovery needs.
        ChronicleMap<Long, long[]> map = existing ? b.recoverPersistedTo(file.toFile(), true)
                : b.createPersistedTo(file.toFile());
        return new StatisticsStore(file, layers, experts, map);
    }

    public Path file() {
        return file;
    }

    static long expertKey(int layer, int expert) {
        return ((long) layer << 20) | expert;
    }

    static long transitionKey(int layer, int from) {
        return (1L << 40) | ((long) layer << 20) | from;
    }

    /** The persisted counters of one expert (zeros when never seen). */
    public long[] expert(int layer, int expert) {
        long[] v = map.get(expertKey(layer, expert));
        return v == null ? new long[FIELDS.length] : java.util.Arrays.copyOf(v, Math.max(v.length, FIELDS.length));
    }

    /** How often each expert of layer+1 followed {@code from} of layer (zeros when never seen). */
    public long[] transitions(int layer, int from) {
        long[] v = map.get(transitionKey(layer, from));
        return v == null ? new long[experts] : v;
    }

    /** Each entry's share of all persisted activations (index layer * experts + expert): the heat prior. */
    public double[] heat() {
        double[] h = new double[layers * experts];
        double total = 0;
        for (int l = 0; l < layers; l++) {
            for (int e = 0; e < experts; e++) {
                h[l * experts + e] = expert(l, e)[ACTIVATIONS];
                total += h[l * experts + e];
            }
        }
        if (total > 0) {
            for (int i = 0; i < h.length; i++) {
                h[i] /= total;
            }
        }
        return h;
    }

    /** Entries ordered hottest first (by persisted activations), those never activated left out. */
    public List<int[]> hottest() {
        List<int[]> out = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            for (int e = 0; e < experts; e++) {
                long a = expert(l, e)[ACTIVATIONS];
                if (a > 0) {
                    out.add(new int[] {l, e, (int) Math.min(Integer.MAX_VALUE, a)});
                }
            }
        }
        out.sort(Comparator.comparingInt((int[] x) -> -x[2]));
        return out;
    }

    /** Starts counting from these sources, flushing their growth every {@code intervalMillis}. */
    public synchronized void attach(ExpertStatistics s, java.util.function.Supplier<CacheCounters> cache, long intervalMillis) {
        this.stats = s;
        this.cacheCounters = cache;
        this.flushedActivations = new long[layers * experts];
        this.flushedTransitions = new long[layers][experts * experts];
        this.flushedCache = new CacheCounters(layers * experts);
        if (intervalMillis > 0) {
            flusher = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().daemon().name("moed-stats-flush").unstarted(r));
            flusher.scheduleAtFixedRate(this::flush, intervalMillis, intervalMillis, TimeUnit.MILLISECONDS);
        }
    }

    /** Adds what was counted since the last flush to the persisted values. */
    public synchronized void flush() {
        if (stats == null) {
            return;
        }
        long[] act = stats.activationArray().clone();
        CacheCounters cc = cacheCounters != null ? cacheCounters.get() : null;
        for (int l = 0; l < layers; l++) {
            for (int e = 0; e < experts; e++) {
                int i = l * experts + e;
                long[] d = new long[FIELDS.length];
                d[ACTIVATIONS] = act[i] - flushedActivations[i];
                if (cc != null) {
                    d[HITS] = cc.entryHits[i] - flushedCache.entryHits[i];
                    d[MISSES] = cc.entryMisses[i] - flushedCache.entryMisses[i];
                    d[STALL_NANOS] = cc.entryStallNanos[i] - flushedCache.entryStallNanos[i];
                    d[PREFETCH_USED] = cc.entryPrefetchUsed[i] - flushedCache.entryPrefetchUsed[i];
                    d[PREFETCH_WASTED] = cc.entryPrefetchWasted[i] - flushedCache.entryPrefetchWasted[i];
                    d[PREFETCH_HITS] = cc.entryPrefetchHits[i] - flushedCache.entryPrefetchHits[i];
                    d[PREFETCH_LATE] = cc.entryPrefetchLate[i] - flushedCache.entryPrefetchLate[i];
                }
                if (nonZero(d)) {
                    add(expertKey(l, e), d);
                }
            }
        }
        long[][] tr = stats.transitionArrays();
        for (int l = 0; l < layers; l++) {
            for (int a = 0; a < experts; a++) {
                long[] d = new long[experts];
                for (int b = 0; b < experts; b++) {
                    d[b] = tr[l][a * experts + b] - flushedTransitions[l][a * experts + b];
                    flushedTransitions[l][a * experts + b] += d[b];
                }
                if (nonZero(d)) {
                    add(transitionKey(l, a), d);
                }
            }
        }
        flushedActivations = act;
        if (cc != null) {
            flushedCache = cc;
        }
    }

    private static boolean nonZero(long[] d) {
        for (long x : d) {
            if (x != 0) {
                return true;
            }
        }
        return false;
    }

    private void add(long key, long[] delta) {
        long[] v = map.get(key);
        if (v == null || v.length < delta.length) {
            v = v == null ? new long[delta.length] : java.util.Arrays.copyOf(v, delta.length); // an older, shorter entry
        }
        for (int i = 0; i < delta.length && i < v.length; i++) {
            v[i] += delta[i];
        }
        map.put(key, v);
    }

    /** Forgets all persisted statistics of this model. */
    public synchronized void reset() {
        map.clear();
    }

    @Override
    public synchronized void close() {
        if (flusher != null) {
            flusher.shutdownNow();
        }
        flush();
        map.close();
    }
}
