package moed.cache;

import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;
import java.util.concurrent.locks.LockSupport;

/**
 * The two halves of scripts/measure/stats-kill.sh, which kills a recording process with -9 and reopens its
 * statistics:
 * <ul>
 *   <li>{@code record DIR PROGRESS}: routes tokens through a model-sized table (48 layers of 128 experts, top-8),
 *       flushing to the Chronicle Map every 500 ms, until killed;</li>
 *   <li>{@code check DIR PROGRESS}: reopens the map (recovering it) and prints one line of figures; exits 1 when the
 *       map does not open or holds what cannot be right.</li>
 * </ul>
 * PROGRESS is a small memory-mapped file the recorder keeps up to date as it goes: the kernel keeps a mapped
 * file's pages when a process is killed, so the checker learns exactly what was recorded up to the kill.
 */
public final class StatisticsKillProbe {
    static final int LAYERS = 48;
    static final int EXPERTS = 128;
    static final int K = 8;
    static final long INTERVAL_MILLIS = 500;
    static final String MODEL = "killed";
    // Progress file layout, in longs.
    static final int BASELINE = 0;       // activations already persisted when the recorder opened the map
    static final int RECORDED = 1;       // activations recorded since
    static final int FLUSHED = 2;        // RECORDED as it was when the last completed flush began
    static final int FLUSHING = 3;       // 1 while a flush is under way
    static final int FLUSHES = 4;        // flushes completed
    static final int ELAPSED_NANOS = 5;  // time spent recording

    private StatisticsKillProbe() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[1]);
        try (FileChannel ch = FileChannel.open(Path.of(args[2]), StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            MappedByteBuffer progress = ch.map(FileChannel.MapMode.READ_WRITE, 0, 64);
            switch (args[0]) {
                case "record" -> record(dir, progress);
                case "check" -> System.exit(check(dir, progress) ? 0 : 1);
                default -> throw new IllegalArgumentException("record or check, not " + args[0]);
            }
        }
    }

    private static long persisted(StatisticsStore st) {
        long total = 0;
        for (int l = 0; l < LAYERS; l++) {
            for (int e = 0; e < EXPERTS; e++) {
                total += st.expert(l, e)[StatisticsStore.ACTIVATIONS];
            }
        }
        return total;
    }

    private static void record(Path dir, MappedByteBuffer progress) throws IOException {
        StatisticsStore st = StatisticsStore.open(dir, MODEL, LAYERS, EXPERTS);
        ExpertStatistics s = new ExpertStatistics(LAYERS, EXPERTS, K);
        for (int i = 0; i < 8; i++) {
            progress.putLong(i * 8, 0);
        }
        progress.putLong(BASELINE * 8, persisted(st));
        st.attach(s, null, 0);
        long[] recorded = new long[1];
        Object recordedLock = new Object();
        Thread flusher = Thread.ofPlatform().daemon().start(() -> {
            while (true) {
                LockSupport.parkNanos(INTERVAL_MILLIS * 1_000_000);
                long before;
                synchronized (recordedLock) {
                    before = recorded[0]; // every count up to here is in the arrays the flush reads
                }
                progress.putLong(FLUSHING * 8, 1);
                st.flush();
                progress.putLong(FLUSHED * 8, before);
                progress.putLong(FLUSHING * 8, 0);
                progress.putLong(FLUSHES * 8, progress.getLong(FLUSHES * 8) + 1);
            }
        });
        System.out.println("READY");
        System.out.flush();
        SplittableRandom r = new SplittableRandom(42);
        int[] chosen = new int[K];
        long t0 = System.nanoTime();
        for (int position = 0; flusher.isAlive(); position++) {
            for (int l = 0; l < LAYERS; l++) {
                for (int j = 0; j < K; j++) {
                    chosen[j] = r.nextInt(EXPERTS); // repeats allowed: each pick is one activation
                }
                s.recordRoute(position, l, chosen, K);
            }
            synchronized (recordedLock) {
                recorded[0] += (long) LAYERS * K;
            }
            progress.putLong(RECORDED * 8, recorded[0]);
            progress.putLong(ELAPSED_NANOS * 8, System.nanoTime() - t0);
            LockSupport.parkNanos(20_000); // about a decode step's pace; leaves the cores to the flusher
        }
    }

    private static boolean check(Path dir, MappedByteBuffer progress) {
        long baseline = progress.getLong(BASELINE * 8);
        long recorded = progress.getLong(RECORDED * 8);
        long flushed = progress.getLong(FLUSHED * 8);
        boolean midFlush = progress.getLong(FLUSHING * 8) == 1;
        long flushes = progress.getLong(FLUSHES * 8);
        long elapsed = progress.getLong(ELAPSED_NANOS * 8);
        long t0 = System.nanoTime();
        long persisted;
        try (StatisticsStore st = StatisticsStore.open(dir, MODEL, LAYERS, EXPERTS)) {
            persisted = persisted(st);
        } catch (Exception | Error e) {
            System.out.println("reopened=no error=" + e);
            return false;
        }
        double openMs = (System.nanoTime() - t0) / 1e6;
        long lost = baseline + recorded - persisted;
        double perInterval = elapsed > 0 ? recorded / (elapsed / 1e6) * INTERVAL_MILLIS : 0;
        // Nothing a completed flush wrote may be lost, and nothing may be counted twice.
        boolean sane = persisted >= baseline + flushed && persisted <= baseline + recorded;
        System.out.printf("reopened=yes open_ms=%.0f flushes=%d mid_flush=%s recorded=%d persisted_new=%d lost=%d"
                        + " lost_intervals=%.2f sane=%s%n", openMs, flushes, midFlush ? "yes" : "no", recorded,
                persisted - baseline, lost, perInterval > 0 ? lost / perInterval : 0, sane ? "yes" : "NO");
        return sane;
    }
}
