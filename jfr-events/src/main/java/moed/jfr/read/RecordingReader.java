package moed.jfr.read;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import moed.jfr.Events;
import moed.jfr.Packing;

/** Reads moed's events out of a JFR file into a {@link MoedRecording}; other events in the file are ignored. */
public final class RecordingReader {
    private RecordingReader() {
    }

    public static MoedRecording read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file + " (no such recording; make one with --jfr FILE)");
        }
        List<RecordedEvent> events = new ArrayList<>();
        try (RecordingFile rf = new RecordingFile(file)) {
            while (rf.hasMoreEvents()) {
                RecordedEvent e = rf.readEvent();
                if (e.getEventType().getName().startsWith("moed.")) {
                    events.add(e);
                }
            }
        } catch (IOException | RuntimeException ex) {
            throw new IOException(file + " is not a readable JFR recording: " + ex.getMessage(), ex);
        }
        // Events from several threads arrive in buffer order; sort by start time, keeping file order for ties.
        events.sort(Comparator.comparing(RecordedEvent::getStartTime));
        Instant origin = events.isEmpty() ? Instant.EPOCH : events.get(0).getStartTime();
        MoedRecording.Session session = null;
        List<MoedRecording.Decision> decisions = new ArrayList<>();
        List<MoedRecording.Access> accesses = new ArrayList<>();
        List<MoedRecording.Load> loads = new ArrayList<>();
        List<MoedRecording.PrefetchAction> prefetches = new ArrayList<>();
        List<Long> evictions = new ArrayList<>();
        List<MoedRecording.Step> steps = new ArrayList<>();
        List<MoedRecording.Request> requests = new ArrayList<>();
        List<MoedRecording.Gauge> gauges = new ArrayList<>();
        List<MoedRecording.Prediction> predictions = new ArrayList<>();
        for (RecordedEvent e : events) {
            long t = nanosBetween(origin, e.getStartTime());
            long d = e.getDuration().toNanos();
            switch (e.getEventType().getName()) {
                case Events.SESSION -> session = new MoedRecording.Session(e.getString("model"), e.getInt("layers"),
                        e.getInt("experts"), e.getInt("expertsUsed"), e.getLong("expertBytes"), e.getLong("budgetBytes"),
                        e.getInt("slots"), e.getString("backing"), e.getString("policy"), e.getString("predictor"));
                case Events.ROUTER_DECISION -> {
                    int k = e.getInt("k");
                    decisions.add(new MoedRecording.Decision(t, e.getLong("request"), e.getLong("step"), e.getInt("position"),
                            e.getInt("layer"), Packing.unpackIds(k, e.getLong("experts0"), e.getLong("experts1")),
                            Packing.unpackHalves(e.getLong("weights0"), e.getLong("weights1"), k)));
                }
                case Events.EXPERT_ACCESS -> accesses.add(new MoedRecording.Access(t, e.getInt("layer"), e.getInt("expert"),
                        e.getInt("outcome"), e.getLong("waitNanos")));
                case Events.EXPERT_LOAD -> loads.add(new MoedRecording.Load(t, e.getInt("layer"), e.getInt("expert"),
                        e.getLong("bytes"), d, e.getInt("reason"), e.getString("tier")));
                case Events.PREFETCH -> prefetches.add(new MoedRecording.PrefetchAction(t, e.getInt("layer"),
                        e.getInt("expert"), e.getInt("action")));
                case Events.EVICTION -> evictions.add(t);
                case Events.TOKEN_STEP -> steps.add(new MoedRecording.Step(t, e.getLong("request"), e.getLong("step"),
                        e.getInt("phase"), e.getInt("tokens"), d));
                case Events.REQUEST -> requests.add(new MoedRecording.Request(t, e.getLong("request"),
                        e.getInt("promptTokens"), e.getInt("generatedTokens"), e.getString("stopReason"), d));
                case Events.CACHE_GAUGE -> gauges.add(new MoedRecording.Gauge(t, e.getLong("residentBytes"),
                        e.getLong("budgetBytes"), e.getInt("entries")));
                case Events.PREDICTION -> predictions.add(new MoedRecording.Prediction(t, e.getLong("step"), e.getInt("token"),
                        e.getInt("layer"), e.getInt("distance"), Packing.unpackIds(e.getInt("count"), e.getLong("experts0"),
                        e.getLong("experts1"), e.getLong("experts2"), e.getLong("experts3"))));
                default -> {
                    // an event type from a newer moed: ignored, so old analyzers still read new recordings
                }
            }
        }
        return new MoedRecording(session, decisions, accesses, loads, prefetches, evictions, steps, requests, gauges,
                predictions);
    }

    private static long nanosBetween(Instant a, Instant b) {
        return (b.getEpochSecond() - a.getEpochSecond()) * 1_000_000_000L + (b.getNano() - a.getNano());
    }
}
