package moed.kernels;

import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;

/**
 * How much more native memory this JVM lets moed allocate. Every {@code Arena.ofAuto()} allocation (the arena the
 * interleaved copies come from, freed by the garbage collector; confined and shared arenas, such as the expert
 * cache's slab, are not counted) counts against the JVM's direct-memory limit ({@code -XX:MaxDirectMemorySize}, by default the heap's maximum, a quarter of the machine's
 * memory), and passing it is an {@link OutOfMemoryError}, not a slower path: a 10 GiB model's interleaved expert
 * copies (issue 19) crashed the start of a 24 GiB machine's engine at 6 GiB. Copies that are only an optimisation ask
 * here first and read the weights where they lie when the room is not there.
 */
public final class NativeMemory {
    /** Kept free for what must be allocated later (KV caches, scratch, a cache's staging buffers). */
    private static final long RESERVE = 512L << 20;

    private NativeMemory() {
    }

    /** The JVM's direct-memory limit in bytes. */
    public static long limit() {
        try {
            String v = ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class)
                    .getVMOption("MaxDirectMemorySize").getValue();
            long set = Long.parseLong(v);
            if (set > 0) {
                return set;
            }
        } catch (RuntimeException e) {
            // Not a HotSpot JVM, or the option is unknown: fall back to the default rule.
        }
        return Runtime.getRuntime().maxMemory();
    }

    /** Direct memory allocated now (the "direct" buffer pool counts Arena allocations too). */
    public static long used() {
        for (BufferPoolMXBean pool : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
            if ("direct".equals(pool.getName())) {
                return pool.getMemoryUsed();
            }
        }
        return 0;
    }

    /** True when {@code bytes} more can be allocated and {@link #RESERVE} still remain under the limit. */
    public static boolean hasRoomFor(long bytes) {
        return bytes <= room();
    }

    /** The bytes that can still be allocated with {@link #RESERVE} left over (zero when none). */
    public static long room() {
        return Math.max(0, limit() - used() - RESERVE);
    }
}
