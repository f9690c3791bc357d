package moed.kernels;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed set of worker threads that share an index range [0, n) with the calling thread. Built for decode, where
 * one token runs hundreds of small mat-vecs: no thread creation, no task objects and no garbage per call; workers
 * spin between calls (a call is usually a few microseconds away) and park after {@link #SPIN_NANOS} without one.
 *
 * <p>The threads claim contiguous chunks of the range from a counter until none is left, each chunk a share of what
 * remains (large first, a single grain at the end), rather than one fixed part each: on a shared host one core is
 * often slower than the other for a whole call, and with fixed halves the faster thread then waited for the slower
 * one. Measured over a 65-token decode (two threads, summed over about 21,000 calls): the caller waited 1.7-1.9 s
 * with fixed halves, 0.9-1.4 s with four equal chunks per thread, 0.7-0.95 s with shrinking chunks. Every index is
 * still computed by exactly one thread with the same arithmetic, so results do not depend on who took it.
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

    /**
     * How long the caller spins waiting for the workers' last chunks before it parks (a worker unparks it when done).
     * A wait is usually a few microseconds; a long one means a worker lost its core to another thread (a compiler
     * thread, the statistics flush, the kernel) and waits for it, a few milliseconds on Linux, while the caller spins
     * on the core that would be free. Parked, the caller leaves that core idle, and the scheduler moves the worker
     * there. Measured over an 800-token Q4_K decode (two threads, ~234,000 calls): waits longer than 50 us summed to
     * 1.9-2.0 s spinning, 1.4 s parking after 50 us.
     */
    private static final long CALLER_SPIN_NANOS = 50_000;
    /**
     * How long an idle worker spins before it parks. Waking a parked worker on this virtual machine took from 40
     * microseconds to several milliseconds (a halted virtual core is rescheduled by the host), and decode's few
     * gaps of a millisecond or so between calls (the end of a token) then cost the next call that much: with 20,000
     * spins (660 us here) the workers' start latency summed to 410-530 ms over a 65-token run, with 5 ms 170-300.
     */
    private static final long SPIN_NANOS = 5_000_000;

    private final int threads;
    private final Thread[] workers;
    private final AtomicInteger pending = new AtomicInteger();
    /** The first unit of grain not yet claimed in the current call. */
    private final AtomicInteger nextUnit = new AtomicInteger();
    private volatile long generation;
    /** The caller while it is parked waiting for the workers (see {@link #CALLER_SPIN_NANOS}), else null. */
    private volatile Thread caller;
    private volatile boolean closed;
    private RangeTask task;
    private int n;
    private int grain;
    /** The current call's range in units of grain. */
    private int units;
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
        this.units = (n + grain - 1) / grain;
        nextUnit.set(0);
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
        awaitWorkers();
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

    private void awaitWorkers() {
        long parkAfter = 0;
        for (int spins = 1; pending.get() != 0; spins++) {
            if ((spins & 15) == 0) {
                long now = System.nanoTime();
                if (parkAfter == 0) {
                    parkAfter = now + CALLER_SPIN_NANOS;
                } else if (now > parkAfter) {
                    caller = Thread.currentThread();
                    while (pending.get() != 0) {
                        LockSupport.park(this);
                    }
                    caller = null;
                    return;
                }
            }
            Thread.onSpinWait();
        }
    }

    /**
     * Claims chunks until none is left, each a share of what remains (guided scheduling): large chunks first, single
     * units at the end, so the thread that finishes first waits for at most a small last chunk of the other's.
     */
    private void runChunks() {
        int total = units;
        int divisor = 2 * threads;
        while (true) {
            int start = nextUnit.get();
            int left = total - start;
            if (left <= 0) {
                return;
            }
            int size = Math.max(1, left / divisor);
            if (nextUnit.compareAndSet(start, start + size)) {
                task.run(start * grain, Math.min(n, (start + size) * grain));
            }
        }
    }

    private void workLoop() {
        long seen = 0;
        while (!closed) {
            int spins = 0;
            long parkAfter = System.nanoTime() + SPIN_NANOS;
            while (generation == seen && !closed) {
                if ((++spins & 63) == 0 && System.nanoTime() > parkAfter) {
                    LockSupport.park(this);
                }
                Thread.onSpinWait();
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
                if (pending.decrementAndGet() == 0) {
                    Thread c = caller;
                    if (c != null) {
                        LockSupport.unpark(c);
                    }
                }
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
