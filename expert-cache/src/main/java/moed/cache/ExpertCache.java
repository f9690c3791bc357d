package moed.cache;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.PriorityBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntPredicate;
import moed.jfr.Events;

/**
 * The bounded resident tier: expert copies in off-heap slots within a hard byte budget, filled by loader threads
 * from a {@link BackingStore}, evicted by an {@link EvictionPolicy}.
 *
 * <p>Slots come in size classes ({@link SizeClasses}): the layers of one file may store their experts in different
 * formats, so the layers are grouped by the bytes a slot needs for one of their experts, and each group has its own
 * run of equal slots in the slab, with its own free list ({@link SlotPool}). The budget is split between the classes
 * in proportion to what each needs to hold all its experts, each getting at least one layer's top-k. An expert only
 * ever takes a slot of its layer's class, and evicts only an expert of that class to get one. When every layer's
 * experts have one size (the common case) there is one class, and the cache is one slab of equal slots.
 *
 * <p>Invariants (all state changes happen under {@code lock}):
 * <ul>
 *   <li>budget: each class's slots are fixed when the cache is made, their total within the budget, and the slab is
 *       never grown; an entry is given a slot of its own class only, so resident bytes never exceed the budget;</li>
 *   <li>pinning: an entry with {@code pins > 0} (acquired and not yet released) is never evicted, and its slot is
 *       never freed or reused;</li>
 *   <li>one load per expert: an entry is LOADING from the moment it is given a slot until one loader thread has
 *       filled it (or stopped it, below); every later request for it waits for that load instead of starting
 *       another;</li>
 *   <li>a started read stops only when unwanted: a prefetch {@link #cancel}led while reading stops between the
 *       parts of its read and frees its slot, unless routing, an acquire or a prefetch wanted it again before the
 *       loader took the lock, in which case it is read again in the same slot; a new load never inherits an old
 *       stop request;</li>
 *   <li>memory outlives its users: the slots (and the backing) are freed only once the cache is closed, the last
 *       loader thread has left (it may be inside a slow read into a slot) and the last pin is released; closing wakes
 *       every waiting acquirer with "the expert cache is closed" and starts no further load.</li>
 * </ul>
 * Each access is counted by how {@link #routed} found its expert when the layer routed (see {@link CacheCounters}).
 * The reads without the lock are {@link #isResident}, a routing hint, and a loader's check of its stop request
 * between the parts of a read (rechecked under the lock). {@link #isResident} may race with a load finishing or an
 * eviction; the state is published with release/acquire, so it sees a recent value, and a stale answer only makes
 * routing prefer an expert that then misses (or skip one that just arrived), which {@link #acquire} handles anyway.
 * Loads are queued by urgency (demand before prefetch before warm-up) and then by deadline.
 *
 * <p>Thread safety: every public method may be called from any thread.
 */
public final class ExpertCache implements ExpertSource {
    public enum OnMiss { WAIT, DIRECT }

    static final byte ABSENT = 0;
    static final byte LOADING = 1;
    static final byte RESIDENT = 2;
    private static final byte NOT_ROUTED = 0;
    private static final byte ROUTED_RESIDENT = 1;
    private static final byte ROUTED_PREFETCHED = 2;
    private static final byte ROUTED_ABSENT = 3;
    static final int DEMAND = 0;
    static final int PREFETCH = 1;
    static final int WARM = 2;
    /** Queued ahead of every load by {@link #close}: the loader that takes it leaves. */
    private static final int STOP = -1;
    /** How long close waits for loaders inside a read before leaving the freeing of the slots to the last of them. */
    private static final long CLOSE_GRACE_NANOS = TimeUnit.SECONDS.toNanos(1);
    /** Writes of {@code state} (under the lock) are releases so that {@link #isResident} can read without it. */
    private static final VarHandle STATE = MethodHandles.arrayElementVarHandle(byte[].class);
    private static final VarHandle ABANDON = MethodHandles.arrayElementVarHandle(byte[].class);

    private final ExpertLayout layout;
    private final int experts;
    private final BackingStore backing;
    private final EvictionPolicy policy;
    private final OnMiss onMiss;
    private final long budget;
    private final int slotCount;
    private final Arena arena = Arena.ofShared();
    /** Per size class, smallest slots first; each a run of the one slab. */
    private final SlotPool[] pools;
    private final List<SlotClass> slotClasses;

    private final byte[] state;
    /** Per entry: the pool of its layer's size class (null: a layer with no experts in the cache), and its slot there. */
    private final SlotPool[] poolOf;
    private final int[] slotOf;
    private final int[] pins;
    private final int[] directUses;
    private final boolean[] loadStarted;
    private final boolean[] prefetchedUnused;
    /** Per entry: how many of its loads failed, and the last failure, told to those waiting when it happened. */
    private final int[] failedLoads;
    private final RuntimeException[] lastFailure;
    private final long[] protectedUntil;
    /**
     * Per entry: 1 while a prefetch whose read has started is no longer wanted (routing chose otherwise); the loader
     * reads it without the lock between the parts of the read and stops there. Written under the lock.
     */
    private final byte[] abandon;
    /** Per entry: which load it is in (a number from {@code sequence}, new for each slot given by startLoad). */
    private final long[] loadId;
    /** Per entry: how {@link #routed} found it for the current step (ROUTED_*), or NOT_ROUTED; used by acquire. */
    private final byte[] routedAs;
    private long layerClock = 1;
    private final ExpertWeights[] views;
    private final int[] resident;
    private final int[] residentPos;
    private int residentCount;
    private final CacheCounters counters;
    /**
     * What the eviction policy may take for a load into {@code victimPool}: an entry of that pool, unpinned and, first,
     * unprotected; for a demand load, protected too when nothing else can go. Fields rather than lambdas made per call,
     * so that choosing a victim allocates nothing. Used under the lock.
     */
    private SlotPool victimPool;
    private final IntPredicate unpinnedUnprotected;
    private final IntPredicate unpinned;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final PriorityBlockingQueue<LoadRequest> queue = new PriorityBlockingQueue<>();
    private final AtomicLong sequence = new AtomicLong();
    private final Thread[] loaders;
    private volatile boolean closed;
    private int loadersInside;
    /** Sum of {@code pins}: the slots cannot be freed while anyone holds one. */
    private int pinned;
    private boolean memoryFreed;
    private boolean poison = Boolean.getBoolean("moed.cache.poison");

    /** A queued load: ordered by urgency, then deadline, then arrival. */
    private record LoadRequest(int entry, int urgency, long deadline, long seq) implements Comparable<LoadRequest> {
        @Override
        public int compareTo(LoadRequest o) {
            if (urgency != o.urgency) {
                return Integer.compare(urgency, o.urgency);
            }
            if (deadline != o.deadline) {
                return Long.compare(deadline, o.deadline);
            }
            return Long.compare(seq, o.seq);
        }
    }

    public ExpertCache(ExpertLayout layout, BackingStore backing, EvictionPolicy policy, long budgetBytes,
                       int minSlots, OnMiss onMiss, int ioThreads) {
        this.layout = layout;
        this.experts = layout.expertCount();
        this.backing = backing;
        this.policy = policy;
        this.onMiss = onMiss == OnMiss.DIRECT && backing.inPlace(firstMoeLayer(layout), 0) == null ? OnMiss.WAIT : onMiss;
        this.budget = budgetBytes;
        SizeClasses sizes = SizeClasses.of(layout, backing);
        int[] slots = sizes.slotsWithin(budgetBytes, minSlots);
        long slabBytes = 0;
        int total = 0;
        for (int c = 0; c < sizes.count(); c++) {
            slabBytes += slots[c] * sizes.slotBytes(c);
            total += slots[c];
        }
        this.slotCount = total;
        // One slab, the classes' runs one after the other: every slot size is a multiple of 64 (of the device block,
        // for direct reads), so every slot stays as aligned as in a slab of one size.
        MemorySegment slab = arena.allocate(slabBytes, 4096);
        this.pools = new SlotPool[sizes.count()];
        List<SlotClass> described = new ArrayList<>();
        long at = 0;
        for (int c = 0; c < pools.length; c++) {
            long run = slots[c] * sizes.slotBytes(c);
            pools[c] = new SlotPool(slab.asSlice(at, run), sizes.slotBytes(c), slots[c]);
            described.add(new SlotClass(sizes.slotBytes(c), slots[c], sizes.experts(c), sizes.layers(c)));
            at += run;
        }
        this.slotClasses = List.copyOf(described);
        int entries = layout.layerCount() * experts;
        poolOf = new SlotPool[entries];
        for (int e = 0; e < entries; e++) {
            int c = sizes.classOf(e / experts);
            poolOf[e] = c < 0 ? null : pools[c];
        }
        state = new byte[entries];
        slotOf = new int[entries];
        pins = new int[entries];
        directUses = new int[entries];
        loadStarted = new boolean[entries];
        prefetchedUnused = new boolean[entries];
        failedLoads = new int[entries];
        lastFailure = new RuntimeException[entries];
        protectedUntil = new long[entries];
        routedAs = new byte[entries];
        loadId = new long[entries];
        abandon = new byte[entries];
        views = new ExpertWeights[entries];
        resident = new int[entries];
        residentPos = new int[entries];
        counters = new CacheCounters(entries);
        unpinnedUnprotected = i -> poolOf[i] == victimPool && pins[i] == 0 && protectedUntil[i] <= layerClock;
        unpinned = i -> poolOf[i] == victimPool && pins[i] == 0;
        loaders = new Thread[Math.max(1, ioThreads)];
        loadersInside = loaders.length;
        for (int i = 0; i < loaders.length; i++) {
            loaders[i] = Thread.ofPlatform().daemon().name("moed-loader-" + i).start(this::loadLoop);
        }
    }

    private static ExpertLayout.Layer firstMoeLayer(ExpertLayout layout) {
        for (int l = 0; l < layout.layerCount(); l++) {
            if (layout.isMoe(l)) {
                return layout.layer(l);
            }
        }
        throw new IllegalArgumentException("the model has no expert layers");
    }

    /** Checking mode (also -Dmoed.cache.poison=true): freed slots are overwritten so use-after-free shows. */
    public void poisonFreedMemory() {
        lock.lock();
        try {
            poison = true;
        } finally {
            lock.unlock();
        }
    }

    public long budgetBytes() {
        return budget;
    }

    /** The experts this cache serves (the model's, less any layers pinned in place elsewhere). */
    public ExpertLayout layout() {
        return layout;
    }

    /** Bytes of one slot for layer l's experts (its size class); 0 for a layer with no experts in the cache. */
    public long slotBytes(int layer) {
        SlotPool p = poolOf[layer * experts];
        return p == null ? 0 : p.slotBytes();
    }

    /** Slots of all size classes together: how many experts fit at once. */
    public int slotCount() {
        return slotCount;
    }

    /** The size classes, smallest slots first: one when every layer's experts have one size. */
    public List<SlotClass> slotClasses() {
        return slotClasses;
    }

    public String policyName() {
        return policy.name();
    }

    public String backingName() {
        return backing.name();
    }

    public OnMiss onMiss() {
        return onMiss;
    }

    /** Bytes of the slots in use right now (resident or loading), each at its class's size; never more than the budget. */
    public long residentBytes() {
        lock.lock();
        try {
            long n = 0;
            for (SlotPool p : pools) {
                n += p.bytesInUse();
            }
            return n;
        } finally {
            lock.unlock();
        }
    }

    public int residentCount() {
        lock.lock();
        try {
            return residentCount;
        } finally {
            lock.unlock();
        }
    }

    /** Entries whose load is queued or under way. */
    public int loadingCount() {
        lock.lock();
        try {
            int n = 0;
            for (byte st : state) {
                if (st == LOADING) {
                    n++;
                }
            }
            return n;
        } finally {
            lock.unlock();
        }
    }

    /** Pins held right now (acquired and not released), over all entries; for tests of the pinning invariant. */
    int pinnedCount() {
        lock.lock();
        try {
            return pinned;
        } finally {
            lock.unlock();
        }
    }

    public CacheCounters counters() {
        lock.lock();
        try {
            return counters.copy();
        } finally {
            lock.unlock();
        }
    }

    /** Lock-free: a hint for routing (see the class comment for what it may race with). */
    @Override
    public boolean isResident(int layer, int expert) {
        return (byte) STATE.getAcquire(state, layer * experts + expert) == RESIDENT;
    }

    private void setState(int e, byte s) {
        STATE.setRelease(state, e, s);
    }

    /**
     * Routing chose these experts of {@code layer} for the current step ({@code counts[x] > 0}): each access is
     * classified as of now (resident, prefetched, or to be loaded on demand; {@link #acquire} counts it so), the
     * chosen experts are protected from eviction for this layer, and the missing ones start loading at demand
     * priority, so that they load while the resident ones compute. The layer clock that ages protections advances.
     */
    @Override
    public void routed(int layer, int[] counts, int n) {
        int base = layer * experts;
        lock.lock();
        try {
            layerClock++;
            for (int x = 0; x < n; x++) {
                if (counts[x] > 0) {
                    int e = base + x;
                    protectedUntil[e] = Math.max(protectedUntil[e], layerClock + 1);
                    keep(e);
                    routedAs[e] = classify(e);
                }
            }
            if (onMiss == OnMiss.WAIT) {
                // With --on-miss direct the missing ones are computed in place by acquire instead.
                for (int x = 0; x < n; x++) {
                    if (counts[x] > 0 && state[base + x] == ABSENT) {
                        startLoad(base + x, DEMAND, 0);
                    }
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /** How an access finds entry e right now: a prefetch not yet used, resident, or neither. Lock held. */
    private byte classify(int e) {
        if (prefetchedUnused[e]) {
            return ROUTED_PREFETCHED;
        }
        return state[e] == RESIDENT ? ROUTED_RESIDENT : ROUTED_ABSENT;
    }

    /**
     * The access is counted by how routing found the expert ({@link #routed}; for a caller that does not announce
     * routing, by how this call finds it): resident, a hit; prefetched, a prefetch hit if it is resident now and
     * late if this call waits for it; otherwise a miss, loaded on demand, however early its load finished.
     */
    @Override
    public ExpertWeights acquire(int layer, int expert) {
        int e = layer * experts + expert;
        if (poolOf[e] == null) {
            throw new IllegalArgumentException("layer " + layer + " has no experts in the cache");
        }
        lock.lock();
        try {
            keep(e);
            byte how = routedAs[e];
            routedAs[e] = NOT_ROUTED;
            if (how == NOT_ROUTED) {
                how = classify(e);
            }
            long t0 = -1;
            boolean missCounted = false;
            long promoted = -1; // the load (loadId) this call moved to demand priority
            // Failures before this call belong to earlier requests (a prefetch nobody waited for): this one retries.
            int failuresSeen = failedLoads[e];
            // A loop, not a sequence: while this thread waits, the expert may finish loading and, not yet pinned,
            // be evicted again by another thread; then it simply goes round once more.
            while (true) {
                if (closed) {
                    throw closedError();
                }
                if (state[e] == RESIDENT) {
                    boolean waitedForIt = t0 >= 0;
                    long waited = waitedForIt ? System.nanoTime() - t0 : 0;
                    if (how == ROUTED_PREFETCHED) {
                        count(e, waitedForIt ? Events.ExpertAccess.PREFETCH_LATE : Events.ExpertAccess.PREFETCH_HIT, waited);
                    } else if (how == ROUTED_RESIDENT && !waitedForIt) {
                        count(e, Events.ExpertAccess.HIT, 0);
                    } else {
                        // A miss (counted when first seen), or resident at routing but evicted before its turn.
                        if (!missCounted) {
                            countMiss(e);
                        }
                        stall(e, waited);
                        access(e, experts, Events.ExpertAccess.MISS, waited);
                    }
                    pins[e]++;
                    pinned++;
                    policy.onAccess(e);
                    usePrefetch(e);
                    return views[e];
                }
                if (failedLoads[e] != failuresSeen) {
                    throw new ExpertLoadException(layer, expert, backing.describe(), lastFailure[e]);
                }
                if (t0 < 0) {
                    t0 = System.nanoTime();
                }
                if (how == ROUTED_PREFETCHED && state[e] == ABSENT) {
                    how = ROUTED_ABSENT; // the prefetch was cancelled or evicted before its use: a miss after all
                }
                if (how != ROUTED_PREFETCHED && !missCounted) {
                    missCounted = true;
                    countMiss(e);
                    if (state[e] == ABSENT && onMiss == OnMiss.DIRECT) {
                        // Compute from the mapped bytes now; bring a copy in for next time if a slot can be had.
                        startLoad(e, PREFETCH, Long.MAX_VALUE);
                        directUses[e]++;
                        counters.directComputes++;
                        access(e, experts, Events.ExpertAccess.IN_PLACE, 0);
                        return backing.inPlace(layout.layer(layer), expert);
                    }
                }
                if (state[e] == ABSENT) {
                    if (startLoad(e, DEMAND, 0)) {
                        promoted = loadId[e]; // queued at demand priority already
                    } else {
                        awaitChange(); // every slot pinned: wait for a release
                    }
                    continue;
                }
                // LOADING: a prefetch, or a load routing or another thread started. Move it to the front (once per
                // load: each wake-up would otherwise queue another request) and wait.
                if (promoted != loadId[e]) {
                    promoted = loadId[e];
                    queue.add(new LoadRequest(e, DEMAND, 0, sequence.incrementAndGet()));
                }
                awaitChange();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Counts a served access of entry e with {@code outcome} (not a miss: see {@link #countMiss}). Lock held. */
    private void count(int e, int outcome, long waited) {
        switch (outcome) {
            case Events.ExpertAccess.HIT -> {
                counters.hits++;
                counters.entryHits[e]++;
            }
            case Events.ExpertAccess.PREFETCH_HIT -> {
                counters.prefetchHits++;
                counters.entryPrefetchHits[e]++;
            }
            case Events.ExpertAccess.PREFETCH_LATE -> {
                counters.prefetchLate++;
                counters.entryPrefetchLate[e]++;
            }
            default -> throw new IllegalArgumentException("not a served outcome: " + outcome);
        }
        stall(e, waited);
        access(e, experts, outcome, waited);
    }

    private void countMiss(int e) {
        counters.misses++;
        counters.entryMisses[e]++;
    }

    private void stall(int e, long waited) {
        counters.stallNanos += waited;
        counters.entryStallNanos[e] += waited;
    }

    private static void access(int e, int experts, int outcome, long waitNanos) {
        Events.ExpertAccess ev = new Events.ExpertAccess();
        if (ev.shouldCommit()) {
            ev.layer = e / experts;
            ev.expert = e % experts;
            ev.outcome = outcome;
            ev.waitNanos = waitNanos;
            ev.commit();
        }
    }

    private static void prefetchEvent(int e, int experts, int action) {
        Events.Prefetch ev = new Events.Prefetch();
        if (ev.shouldCommit()) {
            ev.layer = e / experts;
            ev.expert = e % experts;
            ev.action = action;
            ev.commit();
        }
    }

    private void usePrefetch(int e) {
        if (prefetchedUnused[e]) {
            prefetchedUnused[e] = false;
            counters.prefetchUsed++;
            counters.entryPrefetchUsed[e]++;
            prefetchEvent(e, experts, Events.Prefetch.USED);
        }
    }

    @Override
    public void release(int layer, int expert) {
        int e = layer * experts + expert;
        lock.lock();
        try {
            if (directUses[e] > 0) {
                directUses[e]--;
            } else if (pins[e] > 0) {
                pins[e]--;
                pinned--;
                if (pins[e] == 0) {
                    changed.signalAll();
                }
                freeMemoryIfUnused();
            } else {
                throw new IllegalStateException("release of expert " + expert + " of layer " + layer + " that was not acquired");
            }
        } finally {
            lock.unlock();
        }
    }

    /** Releases what {@link #acquire} returned; a convenience for try-style use. */
    public void release(int layer, int expert, ExpertWeights acquired) {
        release(layer, expert);
    }

    /**
     * Asks for an expert to be loaded ahead of need. {@code deadline} orders prefetches (smaller first, e.g. the
     * number of layers until it is needed). Never evicts a pinned or loading entry; returns false when the expert
     * is already resident or loading, or no slot can be had.
     */
    public boolean prefetch(int layer, int expert, long deadline) {
        int e = layer * experts + expert;
        lock.lock();
        try {
            if (state[e] != ABSENT) {
                keep(e);
                return false;
            }
            if (!startLoad(e, PREFETCH, deadline)) {
                return false;
            }
            prefetchedUnused[e] = true;
            counters.prefetchIssued++;
            prefetchEvent(e, experts, Events.Prefetch.ISSUED);
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Loads an expert at start-up (lowest priority); false when no slot is free without evicting. */
    public boolean warm(int layer, int expert) {
        int e = layer * experts + expert;
        lock.lock();
        try {
            return state[e] == ABSENT && poolOf[e] != null && poolOf[e].hasFree() && startLoad(e, WARM, 0);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Withdraws a prefetch still loading: one not yet reading is dropped now; one reading stops between the parts of
     * its read (where the backing reads in parts: direct reads, one matrix at a time), unless wanted again before.
     * Returns true if it was withdrawn or asked to stop (a backing that reads in one piece, mmap, finishes anyway).
     */
    public boolean cancel(int layer, int expert) {
        int e = layer * experts + expert;
        lock.lock();
        try {
            if (state[e] != LOADING || !prefetchedUnused[e]) {
                return false;
            }
            if (loadStarted[e]) {
                ABANDON.setRelease(abandon, e, (byte) 1);
                return true;
            }
            prefetchedUnused[e] = false;
            setState(e, ABSENT);
            freeSlot(e);
            counters.prefetchCancelled++;
            prefetchEvent(e, experts, Events.Prefetch.CANCELLED);
            changed.signalAll();
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Waits until no load is queued or running (for tests and warm-up reports). */
    public void awaitIdle(long timeoutMillis) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        lock.lock();
        try {
            while (!closed && anyLoading()) {
                long left = end - System.nanoTime();
                if (left <= 0) {
                    return;
                }
                changed.awaitNanos(left);
            }
        } finally {
            lock.unlock();
        }
    }

    private boolean anyLoading() {
        for (byte s : state) {
            if (s == LOADING) {
                return true;
            }
        }
        return false;
    }

    /**
     * Marks an expert as expected within {@code layersAhead} layers: until then it is evicted only when nothing
     * else can go (prediction-aware eviction), and prefetches never push it out.
     */
    public void protect(int layer, int expert, int layersAhead) {
        lock.lock();
        try {
            int e = layer * experts + expert;
            protectedUntil[e] = Math.max(protectedUntil[e], layerClock + layersAhead + 1);
        } finally {
            lock.unlock();
        }
    }

    /** Gives entry e a slot of its size class (evicting an entry of that class if allowed), queues its load. Lock held. */
    private boolean startLoad(int e, int urgency, long deadline) {
        SlotPool pool = poolOf[e];
        if (closed || pool == null) {
            return false;
        }
        if (!pool.hasFree()) {
            victimPool = pool;
            int victim = policy.victim(resident, residentCount, unpinnedUnprotected);
            if (victim < 0 && urgency == DEMAND) {
                // A demand load may take a protected entry when nothing else can go; a prefetch may not.
                victim = policy.victim(resident, residentCount, unpinned);
            }
            if (victim < 0) {
                return false;
            }
            evict(victim);
        }
        slotOf[e] = pool.take();
        loadId[e] = sequence.incrementAndGet();
        setState(e, LOADING);
        loadStarted[e] = false;
        ABANDON.setRelease(abandon, e, (byte) 0); // a fresh load: no stop request of an earlier one applies
        queue.add(new LoadRequest(e, urgency, deadline, sequence.incrementAndGet()));
        return true;
    }

    private void evict(int e) {
        setState(e, ABSENT);
        views[e] = null;
        policy.onEvict(e);
        int p = residentPos[e];
        int last = resident[--residentCount];
        resident[p] = last;
        residentPos[last] = p;
        counters.evictions++;
        Events.Eviction ev = new Events.Eviction();
        if (ev.shouldCommit()) {
            ev.layer = e / experts;
            ev.expert = e % experts;
            ev.commit();
        }
        if (prefetchedUnused[e]) {
            prefetchedUnused[e] = false;
            counters.prefetchWasted++;
            counters.entryPrefetchWasted[e]++;
            prefetchEvent(e, experts, Events.Prefetch.WASTED);
        }
        freeSlot(e);
    }

    /** Gives entry e's slot back to its pool. Lock held. */
    private void freeSlot(int e) {
        if (poison) {
            // Checking mode: freed memory reads as NaN scales, so any use after free shows in results.
            poolOf[e].slot(slotOf[e]).fill((byte) 0xFF);
        }
        poolOf[e].give(slotOf[e]);
    }

    private void awaitChange() {
        try {
            changed.await();
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for an expert load", ex);
        }
    }

    private void loadLoop() {
        try {
            loadUntilClosed();
        } finally {
            lock.lock();
            try {
                loadersInside--;
                changed.signalAll();
                freeMemoryIfUnused();
            } finally {
                lock.unlock();
            }
        }
    }

    private void loadUntilClosed() {
        while (!closed) {
            LoadRequest r;
            try {
                r = queue.poll(100, TimeUnit.MILLISECONDS);
            } catch (InterruptedException ex) {
                return;
            }
            if (r == null) {
                continue;
            }
            if (r.urgency() == STOP) {
                return;
            }
            int e = r.entry();
            MemorySegment dst;
            int reason;
            lock.lock();
            try {
                if (closed) {
                    return;
                }
                if (state[e] != LOADING || loadStarted[e]) {
                    continue; // done by another request for the same expert, or cancelled
                }
                loadStarted[e] = true;
                dst = poolOf[e].slot(slotOf[e]);
                // The recorded reason is why the expert was wanted, not its urgency: an in-place miss's copy is queued
                // as a prefetch but was not predicted.
                reason = prefetchedUnused[e] ? Events.ExpertLoad.PREFETCH
                        : r.urgency() == WARM ? Events.ExpertLoad.WARM : Events.ExpertLoad.DEMAND;
            } finally {
                lock.unlock();
            }
            int layer = e / experts;
            int expert = e % experts;
            long t0 = System.nanoTime();
            long abandonedBytes = -1;
            RuntimeException failure = null;
            ExpertWeights loaded = null;
            Events.ExpertLoad ev = new Events.ExpertLoad();
            ev.begin();
            try {
                long[] stoppedAt = {-1};
                loaded = backing.load(layout.layer(layer), expert, dst, read -> {
                    boolean go = (byte) ABANDON.getAcquire(abandon, e) == 0;
                    if (!go) {
                        stoppedAt[0] = read;
                    }
                    return go;
                });
                if (loaded != null) {
                    loaded = loaded.inKernelLayout(); // in its slot, on this loader thread
                }
                if (loaded == null && stoppedAt[0] < 0) {
                    failure = new IllegalStateException("the backing returned no weights without being asked to stop");
                } else if (loaded == null) {
                    abandonedBytes = stoppedAt[0];
                }
            } catch (RuntimeException ex) {
                failure = ex;
            } catch (InternalError ex) {
                // How the JDK reports a fault in a mapped read (the file cut short under the mapping, a disk error).
                failure = new IllegalStateException(ex.getMessage(), ex);
            } catch (Error ex) {
                // Anything else (out of memory, a linkage error): fail this load rather than leave it LOADING with
                // acquirers waiting for good; the loader thread goes on.
                failure = new IllegalStateException(ex.toString(), ex);
            }
            ev.end();
            if (failure == null && abandonedBytes < 0 && ev.shouldCommit()) {
                ev.layer = layer;
                ev.expert = expert;
                ev.bytes = layout.layer(layer).expertBytes();
                ev.reason = reason;
                ev.tier = backing.name();
                ev.commit();
            }
            long took = System.nanoTime() - t0;
            lock.lock();
            try {
                if (abandonedBytes >= 0) {
                    finishAbandoned(e, abandonedBytes, took);
                } else if (failure != null) {
                    // Back to ABSENT with its slot free, as if never requested: those waiting are told, the next
                    // request reads again.
                    lastFailure[e] = failure;
                    failedLoads[e]++;
                    counters.loadFailures++;
                    setState(e, ABSENT);
                    prefetchedUnused[e] = false;
                    ABANDON.setRelease(abandon, e, (byte) 0);
                    freeSlot(e);
                } else {
                    ABANDON.setRelease(abandon, e, (byte) 0); // finished before it could stop: resident after all
                    setState(e, RESIDENT);
                    views[e] = loaded;
                    resident[residentCount] = e;
                    residentPos[e] = residentCount++;
                    policy.onInsert(e);
                    counters.loads++;
                    counters.bytesLoaded += layout.layer(layer).expertBytes();
                    counters.loadNanos += took;
                }
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    /** Entry e is wanted: a prefetch told to stop reading goes on after all. Lock held. */
    private void keep(int e) {
        if (abandon[e] != 0) {
            ABANDON.setRelease(abandon, e, (byte) 0);
        }
    }

    /**
     * A load stopped part way, {@code bytes} read in {@code took} ns. Still unwanted: the entry is ABSENT again with
     * its slot free (a cancelled prefetch; its bytes count as read, they used the disk). Wanted again meanwhile: it
     * is read again from the start at demand priority. Lock held.
     */
    private void finishAbandoned(int e, long bytes, long took) {
        counters.bytesLoaded += bytes;
        counters.loadNanos += took;
        if ((byte) ABANDON.getAcquire(abandon, e) != 0 && !closed) {
            ABANDON.setRelease(abandon, e, (byte) 0);
            prefetchedUnused[e] = false;
            setState(e, ABSENT);
            freeSlot(e);
            counters.prefetchCancelled++;
            counters.prefetchStopped++;
            prefetchEvent(e, experts, Events.Prefetch.CANCELLED);
        } else if (closed) {
            setState(e, ABSENT);
        } else {
            loadStarted[e] = false;
            queue.add(new LoadRequest(e, DEMAND, 0, sequence.incrementAndGet()));
        }
    }

    private static IllegalStateException closedError() {
        return new IllegalStateException("the expert cache is closed");
    }

    /**
     * Stops loading and wakes every waiting acquirer (they get "the expert cache is closed"). The slots are freed
     * here when no loader is inside a read and nothing is pinned, which is the usual case after a short wait;
     * otherwise by the last loader to leave or the last release, so that nothing writes or reads freed memory.
     */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            changed.signalAll();
            for (int i = 0; i < loaders.length; i++) {
                queue.add(new LoadRequest(-1, STOP, 0, sequence.incrementAndGet()));
            }
            long left = CLOSE_GRACE_NANOS;
            while (loadersInside > 0 && left > 0) {
                left = changed.awaitNanos(left);
            }
            freeMemoryIfUnused();
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt(); // stop waiting; the last loader frees the slots
        } finally {
            lock.unlock();
        }
    }

    /** Frees the slots and closes the backing once closed with no loader inside and nothing pinned. Lock held. */
    private void freeMemoryIfUnused() {
        if (closed && !memoryFreed && loadersInside == 0 && pinned == 0) {
            memoryFreed = true;
            backing.close();
            arena.close();
        }
    }
}
