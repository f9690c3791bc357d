package moed.kernels;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed set of worker threads that split an index range [0, n) into contiguous parts, one per thread, the
 * calling thread doing part 0. Built for decode, where one token runs hundreds of small mat-vecs: no thread
 * creation, no task objects and no garbage per call; workers spin briefly between calls (a call is usually a
 * few microseconds away) and park after that.
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

    private final int threads;
    private final Thread[] workers;
    private final AtomicInteger pending = new AtomicInteger();
    private volatile long generation;
    private volatile boolean closed;
    private RangeTask task;
    private int n;
    private int grain;
    private volatile Throwable failure;

    public ParallelExecutor(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            int part = i + 1;
            workers[i] = Thread.ofPlatform().daemon().name("moed-compute-" + part).start(() -> workLoop(part));
        }
    }

    public int threads() {
        return threads;
    }

    /** Runs task over [0, n) in parts whose bounds are multiples of {@code grain}; returns when all parts are done. */
    public void run(int n, int grain, RangeTask task) {
        if (threads == 1 || n <= grain) {
            task.run(0, n);
            return;
        }
        this.task = task;
        this.n = n;
        this.grain = grain;
        pending.set(workers.length);
        generation = generation + 1; // publishes task, n and grain to the workers
        for (Thread w : workers) {
            LockSupport.unpark(w);
        }
        Throwable own = null;
        try {
            runPart(0);
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

    private void runPart(int part) {
        int units = (n + grain - 1) / grain;
        int from = (int) Math.min(n, (long) units * part / threads * grain);
        int to = (int) Math.min(n, (long) units * (part + 1) / threads * grain);
        if (from < to) {
            task.run(from, to);
        }
    }

    private void workLoop(int part) {
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
                runPart(part);
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
