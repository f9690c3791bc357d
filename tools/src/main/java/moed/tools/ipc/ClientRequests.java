package moed.tools.ipc;

import java.util.HashMap;
import java.util.Map;
import java.util.function.LongConsumer;

/**
 * One client's requests in flight (client request id to scheduler id) and whether the client is gone. The IPC
 * thread submits and cancels, the compute thread finishes requests and may declare the client dead (its ring stayed
 * full): every change happens under this object's lock, so a cancel or a death that comes between the submit and
 * the scheduler's id is applied once the id is known, and a client dies once. Cold path: once per request.
 */
final class ClientRequests {
    private static final long NOT_STARTED = -1;

    private final LongConsumer cancelInScheduler;
    private final Map<Long, Long> inFlight = new HashMap<>();
    private final Map<Long, Boolean> cancelRequested = new HashMap<>();
    private volatile boolean closed;

    ClientRequests(LongConsumer cancelInScheduler) {
        this.cancelInScheduler = cancelInScheduler;
    }

    /** Takes a request id before its submit; false when the id is in use or the client is gone. */
    synchronized boolean reserve(long req) {
        if (closed || inFlight.containsKey(req)) {
            return false;
        }
        inFlight.put(req, NOT_STARTED);
        return true;
    }

    /** The scheduler accepted the request as {@code sid}: a cancel or death that came meanwhile is applied now. */
    synchronized void started(long req, long sid) {
        if (!inFlight.containsKey(req)) {
            return; // it has finished already
        }
        inFlight.put(req, sid);
        if (closed || cancelRequested.remove(req) != null) {
            cancelInScheduler.accept(sid);
        }
    }

    /** The client asked to stop a request; unknown ids are ignored. */
    synchronized void cancel(long req) {
        Long sid = inFlight.get(req);
        if (sid == null) {
            return;
        }
        if (sid == NOT_STARTED) {
            cancelRequested.put(req, Boolean.TRUE);
        } else {
            cancelInScheduler.accept(sid);
        }
    }

    /** The request ended (done or error). */
    synchronized void finished(long req) {
        inFlight.remove(req);
        cancelRequested.remove(req);
    }

    synchronized boolean contains(long req) {
        return inFlight.containsKey(req);
    }

    /** The client is gone: its running requests are cancelled. True only for the call that closed it. */
    synchronized boolean close() {
        if (closed) {
            return false;
        }
        closed = true;
        for (long sid : inFlight.values()) {
            if (sid != NOT_STARTED) {
                cancelInScheduler.accept(sid);
            }
        }
        return true;
    }

    /** Read on every reply write, without the lock. */
    boolean isClosed() {
        return closed;
    }
}
