package moed.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import moed.cache.Backing;
import moed.cache.EvictionPolicy;
import moed.cache.ExpertCache;
import moed.jfr.Events;
import moed.jfr.Packing;
import moed.jfr.Recorder;
import moed.jfr.read.RecordingReader;
import moed.predictor.PredictorKind;
import moed.runtime.Engine;
import moed.runtime.config.CacheOptions;
import moed.runtime.sampling.SamplerConfig;
import moed.tools.analyze.HtmlReport;
import moed.tools.analyze.RecordingAnalysis;
import moed.tools.analyze.Report;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Recordings of real runs, analyzed: counts agree with what the runtime did; big recordings; the HTML in a browser. */
class RecordingAnalysisEndToEndTest {
    @TempDir
    Path dir;

    @Test
    void perLayerCountsMatchTheRouterDecisionsTheRuntimeMade() throws Exception {
        Path jfr = dir.resolve("run.jfr");
        int[][] seen = new int[8][16];
        long[] accesses = new long[1];
        CacheOptions cache = CacheOptions.of(new CacheOptions.Tier(3L << 20, Backing.MMAP, EvictionPolicy.Kind.LFU, ExpertCache.OnMiss.WAIT, 2))
                .with(new CacheOptions.Prefetch(PredictorKind.GATE, 1, 1));
        try (Engine e = Engine.open(CliEndToEndTest.MODEL, 2, 256, 16, cache)) {
            e.observe((seq, pos, layer, ex, w, k, rerouted) -> {
                for (int i = 0; i < k; i++) {
                    seen[layer][ex[i]]++;
                }
            });
            var before = e.cache().counters();
            e.startRecording(jfr);
            e.generate("Once upon a time there was a little girl who", 24, SamplerConfig.GREEDY, (id, t) -> true);
            e.generate("The old king looked at the sea and said", 12, SamplerConfig.GREEDY, (id, t) -> true);
            e.stopRecording();
            accesses[0] = e.cache().counters().since(before).accesses();
        }
        Report rep = RecordingAnalysis.analyze(RecordingReader.source(jfr), RecordingAnalysis.Options.DEFAULTS);
        for (int l = 0; l < 8; l++) {
            assertArrayEquals(seen[l], rep.heat()[l], "layer " + l);
        }
        assertEquals(2, rep.summary().throughput().requests());
        assertEquals(23 + 11, rep.summary().throughput().decodeTokens());
        assertEquals(accesses[0], rep.summary().outcomes().accesses(), "one access event per cache lookup");
        assertEquals(accesses[0], rep.layers().stream().mapToLong(Report.LayerRow::accesses).sum());
        assertTrue(rep.predictor().stream().anyMatch(p -> p.layer() < 0 && p.recall() > 0.5), rep.predictor().toString());
    }

    /** Writes a recording of {@code tokens} decode tokens of a 16-layer, 64-expert, top-8 model: 8 events per layer. */
    public static void main(String[] args) throws Exception {
        Path file = Path.of(args[0]);
        int tokens = Integer.parseInt(args[1]);
        java.util.SplittableRandom r = new java.util.SplittableRandom(1);
        int[] ex = new int[8];
        float[] w = new float[8];
        try (Recorder rec = new Recorder(file, null)) {
            Events.Session s = new Events.Session();
            s.model = "synthetic";
            s.layers = 16;
            s.experts = 64;
            s.expertsUsed = 8;
            s.expertBytes = 1 << 20;
            s.commit();
            for (int t = 0; t < tokens; t++) {
                Events.TokenStep step = new Events.TokenStep();
                step.begin();
                for (int l = 0; l < 16; l++) {
                    for (int i = 0; i < 8; i++) {
                        ex[i] = r.nextInt(4) == 0 ? r.nextInt(64) : r.nextInt(12);
                        w[i] = 0.125f;
                    }
                    Events.RouterDecision d = new Events.RouterDecision();
                    d.step = t + 1;
                    d.position = t;
                    d.layer = l;
                    d.k = 8;
                    d.experts0 = Packing.ids(ex, 8, 0);
                    d.experts1 = Packing.ids(ex, 8, 4);
                    d.weights0 = Packing.halves(w, 8, 0);
                    d.weights1 = Packing.halves(w, 8, 4);
                    d.commit();
                    for (int i = 0; i < 8; i++) {
                        Events.ExpertAccess a = new Events.ExpertAccess();
                        a.layer = l;
                        a.expert = ex[i];
                        a.outcome = (i & 1) == 0 ? Events.ExpertAccess.HIT : Events.ExpertAccess.MISS;
                        a.waitNanos = (i & 1) * 1000;
                        a.commit();
                    }
                }
                step.end();
                step.step = t + 1;
                step.phase = Events.TokenStep.DECODE;
                step.tokens = 1;
                step.commit();
            }
        }
    }

    @Test
    void aLargeRecordingIsAnalyzedInBoundedMemory() throws Exception {
        Path jfr = dir.resolve("big.jfr");
        int tokens = 12_000; // 12k tokens x 16 layers x 9 events = 1.7 M events, about 34 MB
        Process w = java(List.of("-Xmx64m"), RecordingAnalysisEndToEndTest.class.getName(), jfr.toString(), Integer.toString(tokens));
        assertTrue(w.waitFor(120, TimeUnit.SECONDS), "writing the recording took too long");
        assertEquals(0, w.exitValue(), new String(w.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
        long size = Files.size(jfr);
        // The analyzer runs with a heap below the recording's size: it streams; what it keeps is the access trace
        // for the curves (here 1.3 M accesses, 5 MB, and as much for Belady's next-use table) and per-step state.
        long heapMb = 24;
        Process a = java(List.of("-Xmx" + heapMb + "m"), moed.tools.cli.MoedCli.class.getName(), "analyze", jfr.toString(), "--json");
        String out = new String(a.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(a.waitFor(180, TimeUnit.SECONDS), "the analysis took too long");
        assertEquals(0, a.exitValue(), out);
        var j = CliEndToEndTest.JSON.readTree(out.substring(out.indexOf('{')));
        assertEquals(tokens, j.get("summary").get("decodeTokens").asLong());
        assertEquals(tokens * 16L * 8, j.get("summary").get("accesses").asLong());
        assertEquals(0.5, j.get("summary").get("hitRate").asDouble(), 1e-12);
        assertTrue(size > heapMb << 20, "recording " + size + " bytes vs heap " + heapMb + " MiB");
    }

    private static Process java(List<String> jvm, String main, String... args) throws Exception {
        return ChildJvm.builder(jvm, main, args).redirectErrorStream(true).start();
    }

    @Test
    void theHtmlReportRendersInHeadlessChromium() throws Exception {
        Path chromium = null;
        for (String c : new String[] {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"}) {
            if (Files.isExecutable(Path.of(c))) {
                chromium = Path.of(c);
            }
        }
        Assumptions.assumeTrue(chromium != null, "no Chromium here (.ci/run installs it with apt-get where it can): HTML render check skipped");
        Path jfr = dir.resolve("run.jfr");
        try (Engine e = Engine.open(CliEndToEndTest.MODEL, 2, 128, 16,
                CacheOptions.of(CacheOptions.Tier.of(4L << 20)))) {
            e.startRecording(jfr);
            e.generate("The old king looked at the sea and said", 16, SamplerConfig.GREEDY, (id, t) -> true);
        }
        Report rep = RecordingAnalysis.analyze(RecordingReader.source(jfr), RecordingAnalysis.Options.DEFAULTS);
        Path html = dir.resolve("report.html");
        Files.writeString(html, HtmlReport.render(rep));
        Path png = dir.resolve("report.png");
        Process p = new ProcessBuilder(chromium.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--user-data-dir=" + dir.resolve("profile"), "--dump-dom", html.toUri().toString())
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String dom = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(90, TimeUnit.SECONDS));
        // The browser parsed the page into a DOM with the charts as SVG polylines and the heat table.
        assertTrue(dom.contains("<svg") && dom.contains("<polyline"), dom.length() > 500 ? dom.substring(0, 500) : dom);
        assertTrue(dom.contains("Expert heat") && dom.contains("Miss-ratio curves"));
        Process shot = new ProcessBuilder(chromium.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--user-data-dir=" + dir.resolve("profile2"), "--screenshot=" + png, "--window-size=1000,2000",
                html.toUri().toString()).redirectErrorStream(true).start();
        shot.getInputStream().readAllBytes();
        assertTrue(shot.waitFor(90, TimeUnit.SECONDS));
        assertTrue(Files.size(png) > 10_000, "a rendered page, not a blank one");
    }
}
