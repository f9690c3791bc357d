package moed.jfr.read;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import moed.jfr.Events;

/**
 * Reads moed's events out of a JFR file; other events in the file are ignored. {@link #source} streams them (bounded
 * memory, any size of recording); {@link #read} collects them into a {@link MoedRecording} (small recordings, tests).
 */
public final class RecordingReader {
    private RecordingReader() {
    }

    /** A source that streams the file's events on every scan. */
    public static EventSource source(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file + " (no such recording; make one with --jfr FILE)");
        }
        if (Files.size(file) == 0) {
            throw new IOException(file + " is empty, not a JFR recording (was the run stopped before it ended?)");
        }
        return v -> scan(file, v);
    }

    public static MoedRecording read(Path file) throws IOException {
        return MoedRecording.collect(source(file));
    }

    private static void scan(Path file, EventVisitor v) throws IOException {
        Instant origin = null;
        int[] ids = new int[Events.Prediction.MAX_EXPERTS];
        DecisionAssembler decisions = new DecisionAssembler();
        try (RecordingFile rf = openFile(file)) {
            RecordedEvent e;
            while ((e = next(rf, file)) != null) {
                String name = e.getEventType().getName();
                if (!name.startsWith("moed.")) {
                    continue;
                }
                if (origin == null) {
                    origin = e.getStartTime();
                }
                long t = nanosBetween(origin, e.getStartTime());
                switch (name) {
                    case Events.SESSION -> v.session(new MoedRecording.Session(e.getString("model"), e.getInt("layers"),
                            e.getInt("experts"), e.getInt("expertsUsed"), e.getLong("expertBytes"), e.getLong("budgetBytes"),
                            e.getInt("slots"), e.getString("backing"), e.getString("policy"), e.getString("predictor")));
                    case Events.ROUTER_DECISION -> decisions.read(e, t, v);
                    case Events.EXPERT_ACCESS -> v.access(t, e.getInt("layer"), e.getInt("expert"), e.getInt("outcome"),
                            e.getLong("waitNanos"));
                    case Events.EXPERT_LOAD -> v.load(t, e.getInt("layer"), e.getInt("expert"), e.getLong("bytes"),
                            e.getDuration().toNanos(), e.getInt("reason"), e.getString("tier"));
                    case Events.PREFETCH -> v.prefetch(t, e.getInt("layer"), e.getInt("expert"), e.getInt("action"));
                    case Events.EVICTION -> v.eviction(t, e.getInt("layer"), e.getInt("expert"));
                    case Events.TOKEN_STEP -> v.step(t, e.getLong("request"), e.getLong("step"), e.getInt("phase"),
                            e.getInt("tokens"), e.hasField("promptTokens") ? e.getInt("promptTokens") : 0,
                            e.getDuration().toNanos());
                    case Events.REQUEST -> v.request(t, e.getLong("request"), e.getInt("promptTokens"),
                            e.getInt("generatedTokens"), e.getString("stopReason"), e.getDuration().toNanos());
                    case Events.CACHE_GAUGE -> v.gauge(t, e.getLong("residentBytes"), e.getLong("budgetBytes"),
                            e.getInt("entries"));
                    case Events.PREDICTION -> {
                        int n = Math.min(Events.Prediction.MAX_EXPERTS, e.getInt("count"));
                        unpack(ids, n, e.getLong("experts0"), e.getLong("experts1"), e.getLong("experts2"),
                                e.getLong("experts3"));
                        v.prediction(t, e.getLong("step"), e.getInt("token"), e.getInt("layer"), e.getInt("distance"), ids, n);
                    }
                    default -> {
                        // an event type from a newer moed: ignored, so old analyzers still read new recordings
                    }
                }
            }
        }
    }

    private static RecordingFile openFile(Path file) throws IOException {
        try {
            return new RecordingFile(file);
        } catch (IOException | RuntimeException ex) {
            throw new IOException(file + " is not a readable JFR recording: " + ex.getMessage(), ex);
        }
    }

    /** The next event, or null at the end; a damaged file is reported as such, not as a bug of the visitor. */
    private static RecordedEvent next(RecordingFile rf, Path file) throws IOException {
        try {
            return rf.hasMoreEvents() ? rf.readEvent() : null;
        } catch (java.io.EOFException ex) {
            throw new IOException(file + " is truncated (a recording cut off mid-chunk): " + ex.getMessage(), ex);
        } catch (IOException | RuntimeException ex) {
            throw new IOException(file + " is not a readable JFR recording: " + ex.getMessage(), ex);
        }
    }

    static void unpack(int[] out, int n, long... packed) {
        for (int i = 0; i < n; i++) {
            out[i] = (int) ((packed[i / 4] >>> (16 * (i % 4))) & 0xFFFF);
        }
    }

    private static long nanosBetween(Instant a, Instant b) {
        return (b.getEpochSecond() - a.getEpochSecond()) * 1_000_000_000L + (b.getNano() - a.getNano());
    }
}
