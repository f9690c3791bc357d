package moed.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reads of the backing that fail: the acquirer is told precisely, the cache stays consistent and retries later. */
class ExpertLoadFailureTest {
    static final int LAYERS = 3;
    static final int EXPERTS = 8;
    final MemorySegment data = TestLayouts.fill(LAYERS, EXPERTS);
    final ExpertLayout layout = TestLayouts.layout(data, LAYERS, EXPERTS);

    ExpertCache cache(int slots, BackingStore backing) {
        long slot = (backing.slotBytes(layout.layer(0)) + 63) / 64 * 64;
        return new ExpertCache(layout, backing, new LruPolicy(LAYERS * EXPERTS), slots * slot, 2,
                ExpertCache.OnMiss.WAIT, 2);
    }

    @Test
    void shouldNameTheExpertAndTheFileWhenAReadFailsAndRetryLater() throws Exception {
        FailingBacking b = new FailingBacking(0);
        b.breakExpert(layout.layer(1), 5);
        try (ExpertCache c = cache(4, b)) {
            c.poisonFreedMemory();
            ExpertLoadException e = assertThrows(ExpertLoadException.class, () -> c.acquire(1, 5));
            assertEquals("cannot load expert 5 of layer 1 from " + FailingBacking.FILE + ": Input/output error", e.getMessage());
            // Other experts keep loading, and the failed one left nothing behind.
            ExpertWeights w = c.acquire(1, 6);
            assertTrue(TestLayouts.intact(w, 1, 6));
            c.release(1, 6);
            CacheCounters k = c.counters();
            assertEquals(1, k.loadFailures);
            assertEquals(1, k.loads);
            assertEquals(2, k.misses);
            assertEquals(1, c.residentCount());
            assertEquals(c.slotBytes(1), c.residentBytes(), "the failed load's slot is free again");
            assertEquals(0, c.pinnedCount());
            // A later acquire reads again (and fails again while the disk is bad, then succeeds).
            assertThrows(ExpertLoadException.class, () -> c.acquire(1, 5));
            assertEquals(2, b.failures.get(), "the second acquire read again");
            b.repair();
            w = c.acquire(1, 5);
            assertTrue(TestLayouts.intact(w, 1, 5));
            c.release(1, 5);
            assertEquals(2, c.counters().loadFailures);
        }
    }

    @Test
    void shouldNotBlameALaterAcquireForAFailedPrefetch() throws Exception {
        FailingBacking b = new FailingBacking(0);
        b.breakExpert(layout.layer(2), 3);
        try (ExpertCache c = cache(4, b)) {
            assertTrue(c.prefetch(2, 3, 1));
            c.awaitIdle(5000);
            b.repair();
            // The failure belonged to the prefetch: nobody was waiting for it, so this acquire simply loads.
            ExpertWeights w = c.acquire(2, 3);
            assertTrue(TestLayouts.intact(w, 2, 3));
            c.release(2, 3);
            assertEquals(1, c.counters().loadFailures);
        }
    }

    @Test
    void shouldNameTheFileWhenODirectReadsPastATruncatedEnd(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("experts.gguf");
        TestLayouts.write(data, f);
        long tensorBytes = layout.layer(0).gate().expertBytes() * EXPERTS;
        try (DirectBackingStore d = new DirectBackingStore(f, layout); ExpertCache c = cache(3, d)) {
            // Cut the file in the middle of the last layer's down tensor, as a copy interrupted half-way would.
            truncate(f, (LAYERS * 3L - 1) * tensorBytes + tensorBytes / 2);
            ExpertLoadException e = assertThrows(ExpertLoadException.class, () -> c.acquire(2, EXPERTS - 1));
            assertTrue(e.getMessage().startsWith("cannot load expert " + (EXPERTS - 1) + " of layer 2 from " + f + ": "), e.getMessage());
            assertTrue(e.getMessage().contains("short read") && e.getMessage().contains("truncated"), e.getMessage());
            ExpertWeights w = c.acquire(0, 1);
            assertTrue(TestLayouts.intact(w, 0, 1), "experts before the cut still load");
            c.release(0, 1);
            assertEquals(0, c.pinnedCount());
            assertEquals(c.slotBytes(0), c.residentBytes());
        }
    }

    private static void truncate(Path f, long size) throws IOException {
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
            ch.truncate(size);
        }
    }
}
