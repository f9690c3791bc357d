package moed.tools.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import moed.runtime.Engine;
import moed.runtime.PredictorEvaluation;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code moed bench predictor}: recall and precision of each expert predictor per layer, against the baselines. */
@Command(name = "predictor", mixinStandardHelpOptions = true,
        description = "Run the model over text and measure each predictor's recall and precision per layer.")
final class PredictorBench implements Callable<Integer> {
    @Mixin
    ModelOptions opts;

    @Option(names = {"-f", "--file"}, required = true, description = "text to run over (e.g. ../shared/corpus/valid.txt)")
    Path file;

    @Option(names = "--tokens", defaultValue = "2048", description = "tokens to evaluate (default: ${DEFAULT-VALUE})")
    int tokens;

    @Option(names = "--window", defaultValue = "256", description = "context window; the cache restarts every window (default: ${DEFAULT-VALUE})")
    int window;

    @Option(names = "--json", description = "print JSON")
    boolean json;

    @Override
    @SuppressWarnings("unchecked")
    public Integer call() throws Exception {
        String text = Files.readString(file);
        try (Engine e = Engine.open(opts.model(), opts.threads(), window + 2, 1)) {
            if (!e.model().config().isMoe()) {
                throw new IllegalArgumentException(opts.model() + " has no experts to predict");
            }
            Map<String, Object> r = new PredictorEvaluation(e).run(text, tokens, window);
            if (json) {
                System.out.println(Json.write(r));
                return 0;
            }
            System.out.printf("%d tokens, top-%d; recall (precision) per layer%n", r.get("tokens"), r.get("k"));
            for (Map<String, Object> p : (List<Map<String, Object>>) r.get("predictors")) {
                double[] rec = (double[]) p.get("recall_per_layer");
                double[] pre = (double[]) p.get("precision_per_layer");
                StringBuilder sb = new StringBuilder();
                for (int l = 0; l < rec.length; l++) {
                    sb.append(Double.isNaN(rec[l]) ? "     -      " : String.format(" %.3f(%.2f)", rec[l], pre[l]));
                }
                System.out.printf("%-18s all %.3f (%.3f) |%s%n", p.get("predictor"), p.get("recall"), p.get("precision"), sb);
            }
        }
        return 0;
    }
}
