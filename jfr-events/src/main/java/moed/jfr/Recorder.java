package moed.jfr;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import jdk.jfr.FlightRecorder;
import jdk.jfr.Recording;

/**
 * Starts and stops a recording of moed's events into a file ({@code --jfr FILE}). Only moed's events are
 * enabled (thresholds 0, the gauge every second), so the recording's cost is moed's own.
 */
public final class Recorder implements AutoCloseable {
    private final Recording recording;
    private final Path file;
    private final Runnable gaugeHook;

    /** What the cache gauge samples every second: the resident tier's bytes, its budget and its resident experts. */
    public record CacheLevel(long residentBytes, long budgetBytes, int entries) {
    }

    /** A recording with the cache gauge sampled from {@code gauge} (null: no cache, no gauge). */
    public Recorder(Path file, java.util.function.Supplier<CacheLevel> gauge) throws IOException {
        this(file, gauge, 0);
    }

    /**
     * As above, keeping at most {@code maxBytes} of the newest events (0: everything): a rotating recording for a
     * long-running daemon. The file is also written if the JVM exits without {@link #close}.
     */
    public Recorder(Path file, java.util.function.Supplier<CacheLevel> gauge, long maxBytes) throws IOException {
        this.file = file;
        this.recording = new Recording();
        recording.setName("moed");
        for (String n : new String[] {Events.SESSION, Events.ROUTER_DECISION, Events.EXPERT_ACCESS, Events.EXPERT_LOAD,
            Events.PREFETCH, Events.EVICTION, Events.TOKEN_STEP, Events.REQUEST, Events.PREDICTION}) {
            recording.enable(n).withoutStackTrace().withThreshold(Duration.ZERO);
        }
        recording.enable(Events.CACHE_GAUGE).withPeriod(Duration.ofSeconds(1));
        recording.setToDisk(true);
        recording.setDestination(file);
        recording.setDumpOnExit(true);
        if (maxBytes > 0) {
            recording.setMaxSize(maxBytes);
        }
        if (gauge != null) {
            gaugeHook = () -> {
                CacheLevel g = gauge.get();
                Events.CacheGauge e = new Events.CacheGauge();
                e.residentBytes = g.residentBytes();
                e.budgetBytes = g.budgetBytes();
                e.entries = g.entries();
                e.commit();
            };
            FlightRecorder.addPeriodicEvent(Events.CacheGauge.class, gaugeHook);
        } else {
            gaugeHook = null;
        }
        recording.start();
    }

    public Path file() {
        return file;
    }

    /** Stops the recording and writes it to the file. */
    @Override
    public void close() {
        if (gaugeHook != null) {
            FlightRecorder.removePeriodicEvent(gaugeHook);
        }
        try {
            recording.stop();
        } catch (IllegalStateException e) {
            // already stopped: the JVM's exit hook got there first and has written the file
        }
        recording.close();
    }
}
