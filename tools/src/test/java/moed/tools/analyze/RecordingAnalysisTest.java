package moed.tools.analyze;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import moed.jfr.Events;
import moed.jfr.Recorder;
import moed.jfr.read.RecordingReader;
import moed.jfr.Events.ExpertAccess;
import moed.jfr.Events.ExpertLoad;
import moed.jfr.Events.TokenStep;
import moed.jfr.read.MoedRecording;
import moed.jfr.read.MoedRecording.Access;
import moed.jfr.read.MoedRecording.Decision;
import moed.jfr.read.MoedRecording.Load;
import moed.jfr.read.MoedRecording.Prediction;
import moed.jfr.read.MoedRecording.Step;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A hand-built recording (2 layers x 4 experts, top-2; a 2-token prompt and 2 decode tokens) whose figures can be
 * worked out on paper; see the comments for each expected value.
 */
class RecordingAnalysisTest {
    static final long MS = 1_000_000;

    static MoedRecording recording() {
        var session = new MoedRecording.Session("t.gguf", 2, 4, 2, 1_000_000, 4_000_000, 4, "mmap", "lru", "gate");
        List<Step> steps = List.of(
                new Step(0, 1, 1, TokenStep.PREFILL, 2, 100 * MS),
                new Step(200 * MS, 1, 2, TokenStep.DECODE, 1, 10 * MS),
                new Step(400 * MS, 1, 3, TokenStep.DECODE, 1, 8 * MS));
        List<Decision> decisions = List.of(
                d(10, 1, 0, 0, 0, 1), d(11, 1, 1, 0, 1, 2), d(20, 1, 0, 1, 0, 3), d(21, 1, 1, 1, 3, 2),
                d(201 * MS, 2, 2, 0, 0, 1), d(202 * MS, 2, 2, 1, 0, 3),
                d(401 * MS, 3, 3, 0, 0, 1), d(402 * MS, 3, 3, 1, 0, 3));
        List<Access> accesses = List.of(
                new Access(201 * MS, 0, 0, ExpertAccess.HIT, 0), new Access(201 * MS, 0, 1, ExpertAccess.HIT, 0),
                new Access(203 * MS, 1, 0, ExpertAccess.MISS, 2 * MS), new Access(205 * MS, 1, 3, ExpertAccess.PREFETCH_LATE, MS),
                new Access(401 * MS, 0, 0, ExpertAccess.HIT, 0), new Access(401 * MS, 0, 1, ExpertAccess.HIT, 0),
                new Access(402 * MS, 1, 0, ExpertAccess.HIT, 0), new Access(402 * MS, 1, 3, ExpertAccess.HIT, 0));
        List<Load> loads = List.of(new Load(202 * MS, 1, 0, 1_000_000, MS, ExpertLoad.DEMAND, "mmap"),
                new Load(203 * MS, 1, 3, 1_000_000, MS, ExpertLoad.PREFETCH, "mmap"));
        List<Prediction> predictions = List.of(
                new Prediction(15, 1, 1, 1, 1, new int[] {3, 2}),            // token 1 of the prompt: both right
                new Prediction(201 * MS, 2, 0, 1, 1, new int[] {0, 2}),      // 1 of 2 right
                new Prediction(401 * MS, 3, 0, 1, 1, new int[] {0, 3, 1}));  // 2 right of 3 predicted
        return new MoedRecording(session, decisions, accesses, loads, List.of(), List.of(), steps,
                List.of(new MoedRecording.Request(0, 1, 2, 3, "length", 500 * MS)), List.of(), predictions);
    }

    static Decision d(long time, long step, int pos, int layer, int a, int b) {
        return new Decision(time, 1, step, pos, layer, new int[] {a, b}, new float[] {0.5f, 0.5f});
    }

    @Test
    void figuresMatchTheHandWorkedValues() throws Exception {
        Report rep = RecordingAnalysis.analyze(recording(), new RecordingAnalysis.Options(1.0, 0.9, Double.NaN));
        Report.Summary s = rep.summary();
        assertEquals(2, s.throughput().promptTokens());
        assertEquals(2, s.throughput().decodeTokens());
        assertEquals(2 / 0.018, s.throughput().decodeTokensPerSecond(), 1e-6); // 2 tokens in 10 + 8 ms
        assertEquals(8, s.outcomes().accesses());
        assertEquals(6 / 8.0, s.outcomes().hitRate(), 1e-12);
        assertEquals(1 / 8.0, s.outcomes().prefetchLateRate(), 1e-12);
        assertEquals(0, s.outcomes().prefetchHitRate(), 1e-12);
        assertEquals(1 / 8.0, s.outcomes().missRate(), 1e-12);
        assertEquals(1.5, s.perToken().stallMsPerToken(), 1e-9);   // 3 ms of waits over 2 decode tokens
        assertEquals(7.5, s.perToken().computeMsPerToken(), 1e-9); // (18 ms - 3 ms) / 2
        assertEquals(0.5, rep.layers().get(1).hitRate(), 1e-12);
        assertEquals(1.0, rep.layers().get(0).hitRate(), 1e-12);
        // heat: layer 0 chose 0 three times, 1 four times, 2 once
        assertEquals(4, rep.heat()[0][1]);
        assertEquals(3, rep.heat()[0][0]);
        assertEquals(1, rep.layers().get(0).hottestExpert());

        // Predictor, layer 1 at distance 1: 2 + 1 + 2 = 5 right of 6 chosen and 7 predicted. Token 1 of the prompt
        // must be compared with position 1's choice ({3, 2}), not position 0's ({0, 3}, which would give 4 right).
        Report.PredictorRow all = rep.predictor().stream().filter(p -> p.layer() < 0).findFirst().orElseThrow();
        assertEquals(3, all.predictions());
        assertEquals(5 / 6.0, all.recall(), 1e-12);
        assertEquals(5 / 7.0, all.precision(), 1e-12);

        // The cache's view of the routing: prompt layer 0 {0,1,2}, layer 1 {0,3,2}; each decode token {0,1}, {0,3}:
        // 14 accesses to 6 distinct experts, so with room for all 8 the hit rate is 8 / 14 for every policy.
        Report.Curves c = rep.curves();
        assertEquals(14, c.traceLength());
        assertEquals(6, c.distinctExperts());
        assertEquals(2, c.tokens());
        Report.CurvePoint full = c.points().get(c.points().size() - 1);
        assertEquals(8, full.entries());
        for (double v : new double[] {full.lru(), full.lfu(), full.heat(), full.belady()}) {
            assertEquals(8 / 14.0, v, 1e-12);
        }
        // Every decode access hits with everything resident: no stall, so the estimate is the compute time alone.
        assertEquals(0, full.stallMsPerToken(), 1e-12);
        assertEquals(1000 / 7.5, full.tokensPerSecond(), 1e-9);
        double prev = -1;
        for (Report.CurvePoint p : c.points()) {
            assertTrue(p.belady() >= Math.max(p.lru(), Math.max(p.lfu(), p.heat())) - 1e-12, "Belady is the bound at " + p.entries());
            assertTrue(p.belady() >= prev, "Belady's curve never falls");
            prev = p.belady();
        }
        // LRU with 4 entries: the prompt leaves {2, 1:0, 1:3, 1:2}; the first decode token misses all 4 of its
        // experts, each evicting the next one needed; the second hits all 4. Misses priced at 1 MB / 1 GB/s = 1 ms.
        Report.CurvePoint four = c.points().stream().filter(p -> p.entries() == 4).findFirst().orElseThrow();
        assertEquals(4 / 14.0, four.lru(), 1e-12);

        // A 90% hit rate is out of reach (first uses miss): the recommendation says so and takes the knee.
        Report.Recommendation r = rep.recommendation();
        assertNotNull(r);
        assertTrue(r.reason().contains("out of reach"), r.reason());
        assertTrue(r.hitRate() >= 0.99 * 8 / 14.0);
    }

    @Test
    void aTargetSpeedPicksTheSmallestCacheThatReachesIt() throws Exception {
        Report rep = RecordingAnalysis.analyze(recording(), new RecordingAnalysis.Options(1.0, 0.9, 130));
        Report.Recommendation r = rep.recommendation();
        assertTrue(r.tokensPerSecond() >= 130, r.toString());
        for (Report.CurvePoint p : rep.curves().points()) {
            if (p.entries() < r.entries()) {
                assertTrue(p.tokensPerSecond() < 130, "a smaller size already reached the target: " + p);
            }
        }
    }

    @Test
    void aRecordingOfATopTenModelIsAnalyzedWithAllTenExperts(@TempDir Path dir) throws Exception {
        // No session event: the analysis learns k and the expert count from the decisions themselves.
        Path file = dir.resolve("top10.jfr");
        int[] ex = {11, 10, 9, 8, 7, 6, 5, 4, 3, 2};
        float[] w = new float[10];
        java.util.Arrays.fill(w, 0.1f);
        try (Recorder r = new Recorder(file, null)) {
            for (int pos = 0; pos < 3; pos++) {
                Events.RouterDecision.emit(1, pos + 1, pos, 0, ex, w, 10, 0);
            }
        }
        Report rep = RecordingAnalysis.analyze(RecordingReader.source(file), RecordingAnalysis.Options.DEFAULTS);
        assertEquals(10, rep.summary().model().expertsUsed());
        assertEquals(12, rep.summary().model().experts());
        assertEquals(3, rep.heat()[0][2], "the tenth expert of each decision counted");
        assertEquals(3, rep.heat()[0][11]);
        assertEquals(0, rep.heat()[0][1]);
    }

    @Test
    void anEmptyRecordingIsRefusedWithAHint() {
        var empty = new MoedRecording(null, List.of(), List.of(), List.of(), List.of(), List.of(), List.of(), List.of(),
                List.of(), List.of());
        var e = assertThrows(IllegalArgumentException.class, () -> RecordingAnalysis.analyze(empty, RecordingAnalysis.Options.DEFAULTS));
        assertTrue(e.getMessage().contains("--jfr"), e.getMessage());
    }

    @Test
    void textAndHtmlRenderTheReport() throws Exception {
        Report rep = RecordingAnalysis.analyze(recording(), new RecordingAnalysis.Options(1.0, 0.9, Double.NaN));
        var out = new java.io.ByteArrayOutputStream();
        TextReport.print(rep, new java.io.PrintStream(out, true, java.nio.charset.StandardCharsets.UTF_8));
        String text = out.toString(java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(text.contains("expert accesses 8: resident when routed 75.0%, prefetched in time 0.0%, prefetched late 12.5%, loaded on demand 12.5%"), text);
        assertTrue(text.contains("recommended: --cache-gb"), text);
        String html = HtmlReport.render(rep);
        assertTrue(html.startsWith("<!DOCTYPE html>") && html.contains("<svg") && html.endsWith("</html>\n"));
    }

    /** Scripts read {@code moed analyze --json}: the summary's parts must not nest it, rename or reorder its fields. */
    @Test
    void theJsonSummaryIsOneFlatObjectWithTheFieldsScriptsRead() throws Exception {
        Report rep = RecordingAnalysis.analyze(recording(), new RecordingAnalysis.Options(1.0, 0.9, Double.NaN));
        var summary = new com.fasterxml.jackson.databind.ObjectMapper().valueToTree(rep).get("summary");
        List<String> names = new java.util.ArrayList<>();
        summary.fieldNames().forEachRemaining(names::add);
        assertEquals(List.of("model", "layers", "experts", "expertsUsed", "expertBytes", "budgetBytes", "slots", "backing",
                "policy", "predictor", "requests", "promptTokens", "decodeTokens", "prefillTokensPerSecond",
                "decodeTokensPerSecond", "accesses", "hitRate", "prefetchHitRate", "prefetchLateRate", "missRate", "stallMsPerToken",
                "computeMsPerToken", "loadedMbPerToken", "loads", "bytesLoaded", "prefetchesIssued", "prefetchesUsed",
                "prefetchesWasted", "prefetchesCancelled", "evictions", "backingGbps", "backingGbpsSource"), names);
        assertEquals("t.gguf", summary.get("model").asText());
        assertEquals(8, summary.get("accesses").asLong());
    }
}
