package moed.kernels;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed set of worker threads that share an index range [0, n) with the calling thread. Built for decode, where
 * one token runs hundreds of small mat-vecs: no thread creation, no task objects and no garbage per call; workers
 * spin briefly between calls (a call is usually a few microseconds away) and park after that.
 *
 * <p>The range is cut into {@link #CHUNKS_PER_THREAD} contiguous chunks per thread, which the threads claim in
 * order from a counter until none is left, rather than one fixed part each: on a shared host one core is often
 * slower than the other for a whole call, and with fixed halves the faster thread then waited for the slower one
 * (a decode profile showed the caller waiting a quarter of its time and the worker idle half of its). Every index
 * is still computed by exactly one thread with the same arithmetic, so results do not depend on who took it.
 *
 * <p>Threading contract: {@link #run} is called by one thread at a time (the owner); the task must be safe
 * to run on disjoint ranges concurrently.
 */
public final class ParallelExecutor implements AutoCloseable {
    /** Work on indices [from, to) of a range split across threads. */
    @FunctionalInterface
    public interface RangeTask {
        void run(int from, int to);
    }

    private static final int SPINS_BEFORE_PARK = 20_000;
    /** Chunks per thread: enough that the faster thread can take over a slower one's tail, few enough to claim cheaply. */
    static final int CHUNKS_PER_THREAD = 4;

    private final int threads;
    private final Thread[] workers;
    private final AtomicInteger pending = new AtomicInteger();
    /** The next chunk to claim in the current call. */
    private final AtomicInteger nextChunk = new AtomicInteger();
    private volatile long generation;
    private volatile boolean closed;
    private RangeTask task;
    private int n;
    private int grain;
    /** The current call's chunk count and chunk size (in indices, a multiple of grain). */
    private int chunks;
    private int chunkSize;
    private volatile Throwable failure;

    public ParallelExecutor(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = Thread.ofPlatform().daemon().name("moed-compute-" + (i + 1)).start(this::workLoop);
        }
    }

    public int threads() {
        return threads;
    }

    /** Runs task over [0, n) in chunks whose bounds are multiples of {@code grain}; returns when all are done. */
    public void run(int n, int grain, RangeTask task) {
        if (threads == 1 || n <= grain) {
            task.run(0, n);
            return;
        }
        this.task = task;
        this.n = n;
        this.grain = grain;
        int units = (n + grain - 1) / grain;
        int unitsPerChunk = Math.max(1, units / (threads * CHUNKS_PER_THREAD));
        this.chunkSize = unitsPerChunk * grain;
        this.chunks = (units + unitsPerChunk - 1) / unitsPerChunk;
        nextChunk.set(0);
        pending.set(workers.length);
        generation = generation + 1; // publishes task, n and grain to the workers
        for (Thread w : workers) {
            LockSupport.unpark(w);
        }
        Throwable own = null;
        try {
            runChunks();
        } catch (Throwable e) {
            own = e; // rethrown below, once every worker has finished: none may still be writing the caller's buffers
        }
        int spins = 0;
        while (pending.get() != 0) {
            if (++spins > SPINS_BEFORE_PARK) {
                Thread.yield();
            } else {
                Thread.onSpinWait();
            }
        }
        this.task = null;
        Throwable worker = failure;
        if (worker != null) {
            failure = null;
        }
        Throwable t = own != null ? own : worker;
        if (t == null) {
            return;
        }
        if (worker != null && worker != t) {
            t.addSuppressed(worker);
        }
        if (t instanceof RuntimeException re) {
            throw re;
        }
        if (t == own && own instanceof Error err) {
            throw err; // the caller's own part fails as it would have without helpers
        }
        throw new IllegalStateException("compute worker failed", t);
    }

    /** Claims chunks until none is left. */
    private void runChunks() {
        for (int c = nextChunk.getAndIncrement(); c < chunks; c = nextChunk.getAndIncrement()) {
            int from = c * chunkSize;
            task.run(from, Math.min(n, from + chunkSize));
        }
    }

    private void workLoop() {
        long seen = 0;
        while (!closed) {
            int spins = 0;
            while (generation == seen && !closed) {
                if (++spins > SPINS_BEFORE_PARK) {
                    LockSupport.park(this);
                } else {
                    Thread.onSpinWait();
                }
            }
            if (closed) {
                return;
            }
            seen = generation;
            try {
                runChunks();
            } catch (Throwable t) {
                failure = t;
            } finally {
                pending.decrementAndGet();
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) {
            LockSupport.unpark(w);
        }
    }
}
