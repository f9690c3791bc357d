package moed.tools.serve;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import moed.runtime.Engine;
import moed.runtime.serve.BatchScheduler;

/**
 * The serving core that every front end shares: one engine, one {@link BatchScheduler} and the compute thread that
 * runs it. The Agrona IPC server and the HTTP API are front ends: they submit to the same scheduler, so their
 * requests decode together in the same steps.
 *
 * <p>Stopping follows one order whatever the front ends: each stops passing new requests on (and answers those that
 * arrive with a "shutting down" error), then the scheduler stops (requests in flight get an error reply), then
 * each front end releases what it holds. Stopping the scheduler first would leave a request accepted in between
 * unanswered.
 */
public final class Daemon implements AutoCloseable {
    /** A way in for clients. */
    public interface FrontEnd {
        /** From now on no new request reaches the scheduler; returns once that holds. */
        void stopAccepting();

        /** Called after the compute thread has stopped: release sockets, rings and files. */
        void release();
    }

    private final Engine engine;
    private final BatchScheduler scheduler;
    private final Thread compute;
    private final List<FrontEnd> frontEnds = new CopyOnWriteArrayList<>();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final long startedNanos = System.nanoTime();
    /** For tests: runs in close() once the compute thread has stopped, before the front ends release. */
    public volatile Runnable afterComputeStopped = () -> { };

    /** Starts the compute thread: up to {@code maxSequences} decode together, {@code maxWaiting} more may queue. */
    public Daemon(Engine engine, int maxSequences, int maxWaiting) {
        this.engine = engine;
        this.scheduler = new BatchScheduler(engine, maxSequences, maxWaiting);
        this.compute = new Thread(scheduler::run, "moed-compute");
        compute.start();
    }

    public Engine engine() {
        return engine;
    }

    public BatchScheduler scheduler() {
        return scheduler;
    }

    public double uptimeSeconds() {
        return (System.nanoTime() - startedNanos) / 1e9;
    }

    /** Registers a front end, stopped and released by {@link #close()}. */
    public void attach(FrontEnd f) {
        frontEnds.add(f);
    }

    public boolean isClosed() {
        return closed.get();
    }

    /** Stops every front end and the compute thread, in the order the class comment gives. The engine stays open. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        for (FrontEnd f : frontEnds) {
            f.stopAccepting();
        }
        scheduler.stop();
        boolean interrupted = join(compute);
        afterComputeStopped.run();
        for (FrontEnd f : frontEnds) {
            f.release();
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** Joins a thread to the end; true when the wait was interrupted (the join is finished all the same). */
    public static boolean join(Thread t) {
        boolean interrupted = false;
        while (t.isAlive()) {
            try {
                t.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        return interrupted;
    }
}
