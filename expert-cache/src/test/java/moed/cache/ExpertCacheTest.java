package moed.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntPredicate;
import moed.kernels.GgmlType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class ExpertCacheTest {
    static final int LAYERS = 3;
    static final int EXPERTS = 8;
    final MemorySegment data = TestLayouts.fill(LAYERS, EXPERTS);
    final ExpertLayout layout = TestLayouts.layout(data, LAYERS, EXPERTS);

    ExpertCache cache(int slots, EvictionPolicy.Kind policy, BackingStore backing) {
        long slot = (backing.slotBytes(layout.layer(0)) + 63) / 64 * 64;
        return new ExpertCache(layout, backing, policy.create(LAYERS * EXPERTS, null), slots * slot, 2,
                ExpertCache.OnMiss.WAIT, 2);
    }

    /**
     * The layouts the concurrency tests run on: every layer Q8_0 (one size class), or four layers of three expert
     * sizes, as a low-bit "dynamic" quantization stores them: an F16 layer (6144 bytes an expert), two Q4_0 layers
     * (1728) and one of Q4_0 gate and up with a Q8_0 down (2240).
     */
    enum Shape {
        UNIFORM(TestLayouts.uniform(LAYERS)),
        MIXED(new TestLayouts.Format(GgmlType.F16), new TestLayouts.Format(GgmlType.Q4_0), new TestLayouts.Format(GgmlType.Q4_0),
                new TestLayouts.Format(GgmlType.Q4_0, GgmlType.Q8_0, TestLayouts.ROWS, TestLayouts.COLS));

        final TestLayouts.Format[] formats;
        final MemorySegment data;
        final ExpertLayout layout;

        Shape(TestLayouts.Format... formats) {
            this.formats = formats;
            this.data = TestLayouts.fill(formats, EXPERTS);
            this.layout = TestLayouts.layout(data, formats, EXPERTS);
        }

        /**
         * A cache of {@code slots} slots (uniform), or of the same fraction of every class's experts as {@code slots}
         * of sixteen (mixed: 4 gives the classes 4, 2 and 2 slots, 6 gives 6, 3 and 3).
         */
        ExpertCache cache(int slots, EvictionPolicy.Kind policy, BackingStore backing) {
            long budget;
            if (this == UNIFORM) {
                budget = slots * ((backing.slotBytes(layout.layer(0)) + 63) / 64 * 64);
            } else {
                long full = 0;
                for (int l = 0; l < layout.layerCount(); l++) {
                    full += EXPERTS * ((backing.slotBytes(layout.layer(l)) + 63) / 64 * 64);
                }
                budget = full * slots / 16;
            }
            ExpertCache c = new ExpertCache(layout, backing, policy.create(layout.layerCount() * EXPERTS, null), budget, 2,
                    ExpertCache.OnMiss.WAIT, 2);
            assertEquals(this == UNIFORM ? 1 : 3, c.slotClasses().size());
            return c;
        }
    }

    @Test
    void shouldRefuseABudgetBelowOneLayersTopK() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new ExpertCache(layout, new MappedBackingStore(), new LruPolicy(24), layout.maxExpertBytes(), 2,
                        ExpertCache.OnMiss.WAIT, 1));
        assertTrue(e.getMessage().contains("one layer's top-k needs 2"), e.getMessage());
    }

    @Test
    void shouldServeCorrectBytesAndNeverExceedTheBudget() {
        for (EvictionPolicy.Kind policy : EvictionPolicy.Kind.values()) {
            try (ExpertCache c = cache(5, policy, new MappedBackingStore())) {
                SplittableRandom r = new SplittableRandom(1);
                for (int i = 0; i < 3000; i++) {
                    int l = r.nextInt(LAYERS);
                    int e = r.nextInt(3) == 0 ? r.nextInt(EXPERTS) : r.nextInt(3);
                    ExpertWeights w = c.acquire(l, e);
                    assertTrue(TestLayouts.intact(w, l, e), policy + ": expert " + l + "/" + e);
                    c.release(l, e);
                    assertTrue(c.residentBytes() <= c.budgetBytes(), "budget");
                }
                CacheCounters k = c.counters();
                assertEquals(3000, k.accesses(), policy.toString());
                assertTrue(k.hits > 0 && k.misses > 0, policy + " mixes hits and misses");
                assertEquals(k.loads - k.evictions, c.residentCount(), policy + ": loads - evictions = resident");
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Shape.class)
    void shouldNeverFreeWhatIsPinnedUnderConcurrentUse(Shape shape) throws Exception {
        try (ExpertCache c = shape.cache(4, EvictionPolicy.Kind.LRU, new MappedBackingStore())) {
            assertEquals(0, hammer(c, shape.layout), "no read fails");
        }
    }

    @ParameterizedTest
    @EnumSource(Shape.class)
    void shouldStayConsistentUnderConcurrentUseWhenOneReadIn50Fails(Shape shape) throws Exception {
        FailingBacking b = new FailingBacking(50);
        try (ExpertCache c = shape.cache(4, EvictionPolicy.Kind.LRU, b)) {
            int told = hammer(c, shape.layout);
            CacheCounters k = c.counters();
            assertTrue(b.failures.get() > 5, "the test must actually fail reads: " + b.failures.get());
            assertEquals(b.failures.get(), k.loadFailures, "every failed read counted once");
            // Each failed load was started by an acquire that waited for it; two acquirers may share one.
            assertTrue(told >= k.loadFailures, told + " acquirers told of " + k.loadFailures + " failures");
        }
    }

    /** A backing that asks between the parts of each read whether to go on, and stops when told (as direct reads). */
    static final class StoppableBacking implements BackingStore {
        final MappedBackingStore inner = new MappedBackingStore();
        final AtomicInteger stops = new AtomicInteger();

        @Override
        public void read(ExpertLayout.Layer layer, int expert, MemorySegment dst) {
            inner.read(layer, expert, dst);
        }

        @Override
        public ExpertWeights load(ExpertLayout.Layer layer, int expert, MemorySegment dst, Progress progress) {
            inner.read(layer, expert, dst);
            Thread.yield();
            if (!progress.stillWanted(1)) {
                stops.incrementAndGet();
                return null;
            }
            return layer.view(dst);
        }

        @Override
        public String name() {
            return "stoppable";
        }
    }

    @ParameterizedTest
    @EnumSource(Shape.class)
    void shouldStayConsistentWhilePrefetchesAreIssuedCancelledAndStoppedConcurrently(Shape shape) throws Exception {
        StoppableBacking b = new StoppableBacking();
        try (ExpertCache c = shape.cache(6, EvictionPolicy.Kind.LFU, b)) {
            assertEquals(0, hammer(c, shape.layout, true), "no read fails");
            CacheCounters k = c.counters();
            assertTrue(k.prefetchIssued > 100 && k.prefetchCancelled > 10, "the test must prefetch and cancel: "
                    + k.prefetchIssued + " issued, " + k.prefetchCancelled + " cancelled, " + b.stops.get() + " stopped");
            // A read told to stop may be wanted again before the cache hears it stopped: then it is read again, not
            // counted as stopped.
            assertTrue(k.prefetchStopped > 0 && k.prefetchStopped <= b.stops.get(), k.prefetchStopped + " of " + b.stops.get());
        }
    }

    private int hammer(ExpertCache c, ExpertLayout layout) throws Exception {
        return hammer(c, layout, false);
    }

    /**
     * Eight threads acquire random experts, check the bytes before and after a yield (freed memory is poisoned, so
     * a use after free shows) and release them; acquires whose read failed must say which expert and file. With
     * {@code speculate}, they also announce routing and issue and cancel prefetches of other experts between
     * acquires. Then checks the books: budget, pins, slots (each resident expert in a slot of its layer's size),
     * counters. Returns how many acquires were told of a failed read.
     */
    private int hammer(ExpertCache c, ExpertLayout layout, boolean speculate) throws Exception {
        int layers = layout.layerCount();
        long slab = 0;
        for (SlotClass k : c.slotClasses()) {
            slab += k.slots() * k.slotBytes();
        }
        assertTrue(slab <= c.budgetBytes(), "the slots fit the budget: " + c.slotClasses());
        c.poisonFreedMemory();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicInteger told = new AtomicInteger();
        List<Thread> threads = new ArrayList<>();
        int perThread = 400;
        for (int t = 0; t < 8; t++) {
            int seed = t;
            threads.add(Thread.ofPlatform().start(() -> {
                SplittableRandom r = new SplittableRandom(seed);
                try {
                    for (int i = 0; i < perThread; i++) {
                        int l = r.nextInt(layers);
                        int e = r.nextInt(EXPERTS);
                        if (speculate) {
                            int pl = r.nextInt(layers);
                            int pe = r.nextInt(EXPERTS);
                            c.prefetch(pl, pe, 1);
                            if (r.nextBoolean()) {
                                Thread.yield();
                                c.cancel(pl, pe); // before, during or after its read
                            }
                            if (r.nextBoolean()) {
                                int[] counts = new int[EXPERTS];
                                counts[e] = 1;
                                c.routed(l, counts, EXPERTS);
                            }
                        }
                        ExpertWeights w;
                        try {
                            w = c.acquire(l, e);
                        } catch (ExpertLoadException x) {
                            if (x.layer() != l || x.expert() != e || !x.getMessage().contains(FailingBacking.FILE)) {
                                throw new AssertionError("failure of " + l + "/" + e + " misreported: " + x.getMessage(), x);
                            }
                            told.incrementAndGet();
                            continue;
                        }
                        // Check before and after others had a chance to evict and poison: a pinned copy stays intact.
                        boolean ok = TestLayouts.intact(w, l, e);
                        Thread.yield();
                        ok &= TestLayouts.intact(w, l, e);
                        c.release(l, e);
                        if (!ok) {
                            throw new AssertionError("pinned expert " + l + "/" + e + " changed while in use");
                        }
                        if (c.residentBytes() > c.budgetBytes()) {
                            throw new AssertionError("budget exceeded");
                        }
                    }
                } catch (Throwable x) {
                    failure.compareAndSet(null, x);
                }
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        if (failure.get() != null) {
            throw new AssertionError(failure.get());
        }
        c.awaitIdle(5000);
        CacheCounters k = c.counters();
        assertTrue(k.evictions > 100, "the test must actually evict: " + k.evictions);
        assertEquals(8L * perThread, k.accesses(), "every acquire counted once, failed or not");
        assertEquals(0, c.pinnedCount(), "every pin released");
        assertEquals(0, c.loadingCount());
        long residentSlots = 0;
        for (int l = 0; l < layers; l++) {
            for (int e = 0; e < EXPERTS; e++) {
                residentSlots += c.isResident(l, e) ? c.slotBytes(l) : 0;
            }
        }
        assertEquals(residentSlots, c.residentBytes(), "no slot kept by a failed load");
        assertEquals(k.loads - k.evictions, c.residentCount(), "loads - evictions = resident");
        return told.get();
    }

    /**
     * A backing whose reads wait for a latch, so a load can be held in flight. Its counters are atomics because the
     * test thread spins on them while loader threads write them.
     */
    static final class GatedBacking implements BackingStore {
        final MappedBackingStore inner = new MappedBackingStore();
        final CountDownLatch gate = new CountDownLatch(1);
        final AtomicInteger reads = new AtomicInteger();
        /** Counted down when the cache closes its backing, which it does together with freeing its slots. */
        final CountDownLatch closed = new CountDownLatch(1);
        /** What a read threw when it finally wrote into its slot (e.g. the slot's memory already freed). */
        final AtomicReference<Throwable> writeFailure = new AtomicReference<>();

        @Override
        public void read(ExpertLayout.Layer layer, int expert, MemorySegment dst) {
            reads.incrementAndGet();
            try {
                gate.await();
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
            try {
                inner.read(layer, expert, dst);
            } catch (RuntimeException e) {
                writeFailure.compareAndSet(null, e);
                throw e;
            }
        }

        @Override
        public String name() {
            return "gated";
        }

        @Override
        public void close() {
            closed.countDown();
        }
    }

    @Test
    void shouldLoadAnExpertOnceForConcurrentRequests() throws Exception {
        GatedBacking b = new GatedBacking();
        try (ExpertCache c = cache(4, EvictionPolicy.Kind.LRU, b)) {
            Thread first = Thread.ofPlatform().start(() -> c.release(1, 2, c.acquire(1, 2)));
            while (c.counters().misses == 0) {
                Thread.onSpinWait();
            }
            Thread second = Thread.ofPlatform().start(() -> c.release(1, 2, c.acquire(1, 2)));
            while (c.counters().misses < 2) { // the second finds it loading (not a prefetch): a miss too
                Thread.onSpinWait();
            }
            b.gate.countDown();
            first.join();
            second.join();
            assertEquals(1, b.reads.get(), "one read for two requests");
            assertEquals(1, c.counters().loads);
        }
    }

    @Test
    void shouldWakeWaitersOnCloseAndFreeTheSlotsOnlyAfterTheLoaderLeft() throws Exception {
        GatedBacking b = new GatedBacking();
        ExpertCache c = cache(4, EvictionPolicy.Kind.LRU, b);
        CompletableFuture<Throwable> waiter = new CompletableFuture<>();
        Thread.ofPlatform().daemon().start(() -> {
            try {
                c.acquire(1, 2);
                waiter.complete(null);
            } catch (Throwable t) {
                waiter.complete(t);
            }
        });
        while (b.reads.get() == 0) {
            Thread.onSpinWait(); // the loader is now inside a slow read, and the acquirer waits for it
        }
        CompletableFuture.runAsync(c::close).get(10, TimeUnit.SECONDS);
        Throwable woken = waiter.get(10, TimeUnit.SECONDS);
        assertInstanceOf(IllegalStateException.class, woken);
        assertEquals("the expert cache is closed", woken.getMessage());
        assertEquals(1, b.closed.getCount(), "slots freed while a loader still reads into one");
        b.gate.countDown();
        assertTrue(b.closed.await(10, TimeUnit.SECONDS), "slots freed once the last loader left");
        assertNull(b.writeFailure.get(), "the loader wrote into freed memory");
    }

    @Test
    void shouldKeepAPinnedExpertReadableAfterCloseUntilItIsReleased() throws Exception {
        GatedBacking b = new GatedBacking();
        b.gate.countDown();
        ExpertCache c = cache(4, EvictionPolicy.Kind.LRU, b);
        ExpertWeights w = c.acquire(0, 3);
        c.close();
        assertEquals(1, b.closed.getCount(), "slots freed under a pinned expert");
        assertTrue(TestLayouts.intact(w, 0, 3));
        IllegalStateException late = assertThrows(IllegalStateException.class, () -> c.acquire(0, 4));
        assertEquals("the expert cache is closed", late.getMessage());
        assertFalse(c.prefetch(0, 4, 1), "nothing is loaded after close");
        c.release(0, 3);
        assertTrue(b.closed.await(10, TimeUnit.SECONDS), "slots freed with the last release");
    }

    @Test
    void shouldAnswerIsResidentWhileTheLockIsHeld() throws Exception {
        // Cache-aware routing asks once per expert per token: the answer must not wait for loads or evictions.
        CountDownLatch inInsert = new CountDownLatch(1);
        CountDownLatch letGo = new CountDownLatch(1);
        AtomicBoolean holdInsert = new AtomicBoolean();
        LruPolicy lru = new LruPolicy(LAYERS * EXPERTS);
        EvictionPolicy holding = new EvictionPolicy() {
            @Override
            public void onAccess(int entry) {
                lru.onAccess(entry);
            }

            @Override
            public void onInsert(int entry) {
                lru.onInsert(entry);
                if (holdInsert.get()) {
                    inInsert.countDown(); // called with the cache's lock held: hold it
                    try {
                        letGo.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            }

            @Override
            public void onEvict(int entry) {
                lru.onEvict(entry);
            }

            @Override
            public int victim(int[] resident, int n, IntPredicate evictable) {
                return lru.victim(resident, n, evictable);
            }

            @Override
            public String name() {
                return "holding";
            }
        };
        MappedBackingStore backing = new MappedBackingStore();
        long slot = (backing.slotBytes(layout.layer(0)) + 63) / 64 * 64;
        try (ExpertCache c = new ExpertCache(layout, backing, holding, 4 * slot, 2, ExpertCache.OnMiss.WAIT, 1)) {
            try {
                c.release(0, 1, c.acquire(0, 1));
                holdInsert.set(true);
                int[] chosen = new int[EXPERTS];
                chosen[2] = 1;
                c.routed(0, chosen, EXPERTS); // starts expert 2's load, which the policy holds the lock in
                assertTrue(inInsert.await(10, TimeUnit.SECONDS));
                CompletableFuture<Boolean> answer = CompletableFuture.supplyAsync(() -> c.isResident(0, 1) && !c.isResident(0, 5));
                assertTrue(answer.get(5, TimeUnit.SECONDS));
            } finally {
                letGo.countDown();
            }
        }
    }

    /** Routing chose {@code chosen} of layer l; then the step acquires and releases each, as the forward pass does. */
    static void step(ExpertCache c, int l, int... chosen) {
        int[] counts = new int[EXPERTS];
        for (int x : chosen) {
            counts[x]++;
        }
        c.routed(l, counts, EXPERTS);
        for (int x : chosen) {
            c.release(l, x, c.acquire(l, x));
        }
    }

    @Test
    void shouldCountEachAccessByHowRoutingFoundItsExpert() throws Exception {
        // A hand-worked trace on layer 0. Expected counts after each step: {hits, prefetch hits, late, misses}.
        try (ExpertCache c = cache(4, EvictionPolicy.Kind.LRU, new MappedBackingStore())) {
            step(c, 0, 1);                        // 1 absent: loaded on demand
            assertOutcomes(c, 0, 0, 0, 1);
            assertTrue(c.prefetch(0, 2, 1));
            c.awaitIdle(5000);                    // 2 prefetched and resident before routing
            int[] counts = new int[EXPERTS];
            counts[1] = counts[2] = counts[3] = 1;
            c.routed(0, counts, EXPERTS);         // 1 resident, 2 prefetched, 3 absent (its load starts now)
            c.awaitIdle(5000);                    // 3 arrives before its turn: still a miss, it was not there when routed
            for (int x = 1; x <= 3; x++) {
                c.release(0, x, c.acquire(0, x));
            }
            assertOutcomes(c, 1, 1, 0, 2);
            step(c, 0, 2, 3);                     // both resident now; 2's prefetch was used last step: hits
            assertOutcomes(c, 3, 1, 0, 2);
            assertEquals(1, c.counters().prefetchUsed);
        }
        GatedBacking b = new GatedBacking();
        try (ExpertCache c = cache(4, EvictionPolicy.Kind.LRU, b)) {
            assertTrue(c.prefetch(0, 4, 1));     // held in flight by the gate
            int[] counts = new int[EXPERTS];
            counts[4] = 1;
            c.routed(0, counts, EXPERTS);
            Thread t = Thread.ofPlatform().start(() -> c.release(0, 4, c.acquire(0, 4)));
            while (b.reads.get() == 0) {
                Thread.onSpinWait();
            }
            Thread.sleep(20);
            b.gate.countDown();
            t.join();
            assertOutcomes(c, 0, 0, 1, 0);        // prefetched but late: the access waited for it
            assertTrue(c.counters().stallNanos >= 10_000_000L, "the wait is stall: " + c.counters().stallNanos);
            assertEquals(1, c.counters().prefetchUsed);
        }
    }

    /** A gated backing that reads in two parts and asks between them whether to go on, as direct reads do. */
    static final class PartedBacking implements BackingStore {
        final GatedBacking gated = new GatedBacking();
        /** Counted down once the load has asked whether to go on; it then waits for {@code resume}. */
        final CountDownLatch asked = new CountDownLatch(1);
        CountDownLatch resume = new CountDownLatch(0);
        /** The first load fails with an I/O error after asking, as a disk error would. */
        volatile boolean failFirst;

        @Override
        public void read(ExpertLayout.Layer layer, int expert, MemorySegment dst) {
            gated.inner.read(layer, expert, dst);
        }

        @Override
        public ExpertWeights load(ExpertLayout.Layer layer, int expert, MemorySegment dst, Progress progress) {
            gated.reads.incrementAndGet();
            try {
                gated.gate.await();
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
            boolean go = progress.stillWanted(1000);
            asked.countDown();
            try {
                resume.await();
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
            if (failFirst) {
                failFirst = false;
                throw new java.io.UncheckedIOException(new java.io.IOException("Input/output error"));
            }
            if (!go) {
                return null;
            }
            read(layer, expert, dst);
            return layer.view(dst);
        }

        @Override
        public String name() {
            return "parted";
        }
    }

    @Test
    void shouldStopAPrefetchReadThatRoutingDidNotChoose() throws Exception {
        PartedBacking b = new PartedBacking();
        try (ExpertCache c = cache(4, EvictionPolicy.Kind.LRU, b)) {
            assertTrue(c.prefetch(0, 4, 1));
            while (b.gated.reads.get() == 0) {
                Thread.onSpinWait(); // its read has started
            }
            assertTrue(c.cancel(0, 4), "a started read can still be stopped");
            b.gated.gate.countDown();
            c.awaitIdle(5000);
            CacheCounters k = c.counters();
            assertEquals(1, k.prefetchCancelled);
            assertEquals(1, k.prefetchStopped);
            assertEquals(1000, k.bytesLoaded, "the part read counts: it used the disk");
            assertEquals(0, k.loads);
            assertEquals(0, c.residentBytes(), "the slot is free again");
            assertFalse(c.isResident(0, 4));
            step(c, 0, 4); // wanted later: read again, on demand
            assertOutcomes(c, 0, 0, 0, 1);
        }
    }

    @Test
    void shouldFinishAStoppedPrefetchThatIsWantedAgain() throws Exception {
        PartedBacking b = new PartedBacking();
        try (ExpertCache c = cache(4, EvictionPolicy.Kind.LRU, b)) {
            assertTrue(c.prefetch(0, 4, 1));
            while (b.gated.reads.get() == 0) {
                Thread.onSpinWait();
            }
            assertTrue(c.cancel(0, 4));
            int[] counts = new int[EXPERTS];
            counts[4] = 1;
            c.routed(0, counts, EXPERTS); // chosen after all, before the read reached its stopping point
            Thread t = Thread.ofPlatform().start(() -> {
                ExpertWeights w = c.acquire(0, 4);
                assertTrue(TestLayouts.intact(w, 0, 4));
                c.release(0, 4);
            });
            b.gated.gate.countDown();
            t.join();
            CacheCounters k = c.counters();
            assertEquals(0, k.prefetchCancelled);
            assertEquals(1, k.loads);
            assertEquals(1, k.prefetchHits + k.prefetchLate, "counted as the prefetch it was (in time or late: a race)");
            assertEquals(0, k.misses);
        }
    }

    @Test
    void shouldReadAgainAStoppedPrefetchWantedBeforeTheCacheHeardItStopped() throws Exception {
        PartedBacking b = new PartedBacking();
        b.resume = new CountDownLatch(1);
        try (ExpertCache c = cache(4, EvictionPolicy.Kind.LRU, b)) {
            assertTrue(c.prefetch(0, 4, 1));
            while (b.gated.reads.get() == 0) {
                Thread.onSpinWait();
            }
            assertTrue(c.cancel(0, 4));
            b.gated.gate.countDown();
            assertTrue(b.asked.await(10, TimeUnit.SECONDS)); // the read was told to stop...
            int[] counts = new int[EXPERTS];
            counts[4] = 1;
            c.routed(0, counts, EXPERTS);                     // ...and is wanted again before the cache hears of it
            b.resume.countDown();
            ExpertWeights w = c.acquire(0, 4);                // read again from the start, at demand priority
            assertTrue(TestLayouts.intact(w, 0, 4));
            c.release(0, 4);
            assertEquals(0, c.counters().prefetchCancelled);
            assertEquals(2, b.gated.reads.get());
        }
    }

    @Test
    void shouldNotLetAStopRequestOutliveAFailedRead() throws Exception {
        PartedBacking b = new PartedBacking();
        b.failFirst = true;
        try (ExpertCache c = cache(4, EvictionPolicy.Kind.LRU, b)) {
            assertTrue(c.prefetch(0, 4, 1));
            while (b.gated.reads.get() == 0) {
                Thread.onSpinWait();
            }
            assertTrue(c.cancel(0, 4));
            b.gated.gate.countDown();                         // the read fails: the entry is absent again
            c.awaitIdle(5000);
            assertEquals(1, c.counters().loadFailures);
            assertTrue(c.prefetch(0, 4, 1));                 // a new prefetch must load in full
            c.awaitIdle(5000);
            assertTrue(c.isResident(0, 4), "the old stop request stopped the new load");
            assertEquals(0, c.counters().prefetchCancelled);
        }
    }

    /** Without routing announced (a caller that only acquires), an access is counted by how it finds the expert. */
    @Test
    void shouldCountByAcquireWhenRoutingWasNotAnnounced() throws Exception {
        try (ExpertCache c = cache(4, EvictionPolicy.Kind.LRU, new MappedBackingStore())) {
            c.release(0, 1, c.acquire(0, 1));
            c.release(0, 1, c.acquire(0, 1));
            assertTrue(c.prefetch(0, 2, 1));
            c.awaitIdle(5000);
            c.release(0, 2, c.acquire(0, 2));
            assertOutcomes(c, 1, 1, 0, 1);
        }
    }

    static void assertOutcomes(ExpertCache c, long hits, long prefetchHits, long prefetchLate, long misses) {
        CacheCounters k = c.counters();
        assertEquals(List.of(hits, prefetchHits, prefetchLate, misses), List.of(k.hits, k.prefetchHits, k.prefetchLate, k.misses),
                "hits, prefetch hits, late prefetches, misses");
    }

    @Test
    void shouldCountPrefetchesUsedWastedAndCancelled() throws Exception {
        try (ExpertCache c = cache(3, EvictionPolicy.Kind.LRU, new MappedBackingStore())) {
            assertTrue(c.prefetch(0, 1, 1));
            assertFalse(c.prefetch(0, 1, 1), "already loading: not issued twice");
            c.awaitIdle(5000);
            c.release(0, 1, c.acquire(0, 1));
            CacheCounters k = c.counters();
            assertEquals(1, k.prefetchHits);
            assertEquals(1, k.prefetchUsed);
            assertTrue(c.prefetch(0, 5, 1));
            c.awaitIdle(5000);
            // Fill the other slots with demand loads so the unused prefetch is evicted.
            for (int e = 2; e < 5; e++) {
                c.release(1, e, c.acquire(1, e));
            }
            assertEquals(1, c.counters().prefetchWasted);
        }
        GatedBacking b = new GatedBacking();
        try (ExpertCache c = cache(3, EvictionPolicy.Kind.LRU, b)) {
            Thread t = Thread.ofPlatform().start(() -> c.release(2, 0, c.acquire(2, 0)));
            while (b.reads.get() == 0) {
                Thread.onSpinWait();
            }
            // With the loader busy... (two loader threads: make both busy before the prefetch queues)
            Thread t2 = Thread.ofPlatform().start(() -> c.release(2, 1, c.acquire(2, 1)));
            while (b.reads.get() < 2) {
                Thread.onSpinWait();
            }
            assertTrue(c.prefetch(2, 3, 5));
            assertTrue(c.cancel(2, 3), "a queued prefetch can be withdrawn");
            b.gate.countDown();
            t.join();
            t2.join();
            assertEquals(1, c.counters().prefetchCancelled);
            assertFalse(c.isResident(2, 3));
        }
    }

    @Test
    void shouldReadTheSameBytesWithODirect(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("experts.bin");
        TestLayouts.write(data, f);
        try (DirectBackingStore d = new DirectBackingStore(f, layout); ExpertCache c = cache(3, EvictionPolicy.Kind.LRU, d)) {
            c.poisonFreedMemory();
            // Read straight into the slots (no staging copy): slots hold each matrix's aligned span, and the views
            // point inside it at the matrix's own bytes.
            assertTrue(c.slotBytes(0) >= layout.maxExpertBytes() && c.slotBytes(0) % d.blockSize() == 0);
            for (int l = 0; l < LAYERS; l++) {
                for (int e = 0; e < EXPERTS; e++) {
                    ExpertWeights w = c.acquire(l, e);
                    assertTrue(TestLayouts.intact(w, l, e), "direct read of " + l + "/" + e);
                    c.release(l, e);
                }
            }
        }
    }
}
