package moed.tools.http;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import moed.runtime.StopReason;
import moed.runtime.serve.BatchScheduler;

/**
 * Hands one request's results from the compute thread to the HTTP thread that answers it. The compute thread only
 * appends and signals (it must never wait on a client); the HTTP thread takes whatever text has come since it last
 * looked, so a slow client receives several tokens in one event instead of holding up the step.
 */
final class ReplyBuffer implements BatchScheduler.Stream {
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final StringBuilder pending = new StringBuilder();
    /** Null while the request runs; set once, by done or error. */
    private volatile Outcome outcome;

    /** How a request ended: {@code errorCode} null when it ended normally ({@code reason} then says why). */
    record Outcome(StopReason reason, int promptTokens, int generatedTokens, String errorCode, String errorMessage) {
        boolean failed() {
            return errorCode != null;
        }
    }

    @Override
    public void token(int id, String piece) {
        if (piece.isEmpty()) {
            return;
        }
        lock.lock();
        try {
            pending.append(piece);
            changed.signal();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void done(StopReason reason, int promptTokens, int generatedTokens, long prefillNanos, long decodeNanos) {
        end(new Outcome(reason, promptTokens, generatedTokens, null, null));
    }

    @Override
    public void error(String code, String message) {
        end(new Outcome(StopReason.ERROR, 0, 0, code, message));
    }

    private void end(Outcome o) {
        lock.lock();
        try {
            outcome = o;
            changed.signal();
        } finally {
            lock.unlock();
        }
    }

    /** Waits until there is text to take or the request has ended. */
    void await() throws InterruptedException {
        lock.lock();
        try {
            while (pending.isEmpty() && outcome == null) {
                changed.await(1, TimeUnit.SECONDS);
            }
        } finally {
            lock.unlock();
        }
    }

    /** The text that came since the last call ("" if none). */
    String take() {
        lock.lock();
        try {
            String s = pending.toString();
            pending.setLength(0);
            return s;
        } finally {
            lock.unlock();
        }
    }

    /** How the request ended, or null while it runs; text before the end may still wait in {@link #take}. */
    Outcome outcome() {
        return outcome;
    }
}
