package moed.tools.cli;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import moed.jfr.read.RecordingReader;
import moed.tools.analyze.HtmlReport;
import moed.tools.analyze.RecordingAnalysis;
import moed.tools.analyze.Report;
import moed.tools.analyze.TextReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code moed analyze run.jfr}: what a recording says about the cache, the predictor and the right cache size. */
@Command(name = "analyze", mixinStandardHelpOptions = true,
        description = {"Analyze a recording made with --jfr: tokens/s, hit rates per layer, stall time, bytes loaded,"
                + " predictor recall/precision, expert heat, layer-to-layer transitions, and miss-ratio curves (LRU, LFU,"
                + " heat, Belady's optimum) with a recommended --cache-gb."})
final class AnalyzeCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "RECORDING", description = "a .jfr file written by run or bench with --jfr")
    Path recording;

    @Option(names = "--json", description = "print the report as JSON")
    boolean json;

    @Option(names = "--html", paramLabel = "FILE", description = "also write the report as a self-contained HTML page")
    Path html;

    @Option(names = "--backing-gbps", description = "backing read bandwidth used to price misses (default: measured from the recorded loads)")
    Double backingGbps;

    @Option(names = "--target-hit-rate", defaultValue = "0.9", description = "hit rate the recommended cache size must reach (default: ${DEFAULT-VALUE})")
    double targetHitRate;

    @Option(names = "--target-tps", description = "recommend the smallest cache whose estimated decode speed reaches this many tokens/s (instead of a hit rate)")
    Double targetTps;

    @Override
    public Integer call() throws Exception {
        if (!(targetHitRate > 0 && targetHitRate <= 1)) {
            throw new IllegalArgumentException("--target-hit-rate must be in (0, 1], got " + targetHitRate);
        }
        if (backingGbps != null && !(backingGbps > 0)) {
            throw new IllegalArgumentException("--backing-gbps must be positive");
        }
        Report report = RecordingAnalysis.analyze(RecordingReader.source(recording), new RecordingAnalysis.Options(
                backingGbps != null ? backingGbps : Double.NaN, targetHitRate, targetTps != null ? targetTps : Double.NaN));
        if (json) {
            System.out.println(Json.write(report));
        } else {
            TextReport.print(report, System.out);
        }
        if (html != null) {
            Files.writeString(html, HtmlReport.render(report), StandardCharsets.UTF_8);
            System.err.println("moed: wrote " + html);
        }
        return 0;
    }
}
