package moed.tools.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The server's per-client bookkeeping driven in the racy orders the IPC and compute threads can produce. */
class ClientRequestsTest {
    final List<Long> cancelled = new CopyOnWriteArrayList<>();
    final ClientRequests requests = new ClientRequests(cancelled::add);

    @Test
    void aCancelBetweenTheSubmitAndTheSchedulerIdIsApplied() {
        assertTrue(requests.reserve(1));
        requests.cancel(1);
        assertEquals(List.of(), cancelled, "no scheduler id to cancel yet");
        requests.started(1, 42);
        assertEquals(List.of(42L), cancelled);
    }

    @Test
    void aClientDeadBetweenTheSubmitAndTheSchedulerIdHasItsSequenceCancelled() {
        assertTrue(requests.reserve(1));
        assertTrue(requests.close());
        requests.started(1, 42);
        assertEquals(List.of(42L), cancelled);
        assertFalse(requests.reserve(2), "a dead client starts nothing new");
    }

    @Test
    void aRequestIdInUseIsRefusedAndFreedWhenFinished() {
        assertTrue(requests.reserve(7));
        assertFalse(requests.reserve(7));
        requests.started(7, 3);
        requests.finished(7);
        assertTrue(requests.reserve(7));
        requests.cancel(99); // unknown: ignored
        assertEquals(List.of(), cancelled);
    }

    @Test
    void aClientClosedFromTwoThreadsAtOnceDiesOnceAndCancelsEachSequenceOnce() throws Exception {
        CyclicBarrier start = new CyclicBarrier(2);
        for (int round = 0; round < 20_000; round++) {
            List<Long> cancels = new CopyOnWriteArrayList<>();
            ClientRequests r = new ClientRequests(cancels::add);
            for (long req = 1; req <= 3; req++) {
                r.reserve(req);
                r.started(req, 100 + req);
            }
            AtomicInteger firsts = new AtomicInteger();
            Thread other = Thread.ofPlatform().start(() -> {
                await(start);
                if (r.close()) {
                    firsts.incrementAndGet();
                }
            });
            await(start);
            if (r.close()) {
                firsts.incrementAndGet();
            }
            other.join();
            assertEquals(1, firsts.get(), "round " + round + ": the drop is reported once");
            assertEquals(3, cancels.size(), "round " + round + ": each sequence cancelled once: " + cancels);
        }
    }

    private static void await(CyclicBarrier b) {
        try {
            b.await();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
