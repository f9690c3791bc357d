package moed.cache;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A backing over memory that fails reads the way a disk with bad sectors does (EIO): every {@code failEvery}-th
 * read, and every read of one expert while it is marked broken. A failed read may have written part of the slot.
 */
final class FailingBacking implements BackingStore {
    static final String FILE = "/models/bad-sectors.gguf";
    private final MappedBackingStore inner = new MappedBackingStore();
    private final int failEvery;
    final AtomicInteger reads = new AtomicInteger();
    final AtomicInteger failures = new AtomicInteger();
    private volatile ExpertLayout.Layer brokenLayer;
    private volatile int brokenExpert = -1;

    /** {@code failEvery}: 0 for no failures by count. */
    FailingBacking(int failEvery) {
        this.failEvery = failEvery;
    }

    void breakExpert(ExpertLayout.Layer layer, int expert) {
        brokenLayer = layer;
        brokenExpert = expert;
    }

    void repair() {
        brokenLayer = null;
        brokenExpert = -1;
    }

    @Override
    public void read(ExpertLayout.Layer layer, int expert, MemorySegment dst) {
        int n = reads.incrementAndGet();
        boolean broken = layer == brokenLayer && expert == brokenExpert;
        if (broken || (failEvery > 0 && n % failEvery == 0)) {
            failures.incrementAndGet();
            MemorySegment.copy(layer.gate().data(), 0, dst, 0, 64); // part of the slot was written before the error
            throw new UncheckedIOException("Input/output error", new IOException("Input/output error"));
        }
        inner.read(layer, expert, dst);
    }

    @Override
    public String name() {
        return "failing";
    }

    @Override
    public String describe() {
        return FILE;
    }
}
