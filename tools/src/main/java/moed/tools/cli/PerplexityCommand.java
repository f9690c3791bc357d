package moed.tools.cli;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import moed.runtime.Engine;
import moed.runtime.eval.Perplexity;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code moed perplexity}: llama.cpp's perplexity method, with KL divergence against a saved base run. */
@Command(name = "perplexity", mixinStandardHelpOptions = true,
        description = {"Perplexity over non-overlapping chunks of a text, scoring the second half of each chunk as"
                + " llama.cpp's perplexity tool does. --save-logits keeps every scored position's log-probabilities;"
                + " --kl-base compares against such a file (KL divergence, top-1 agreement)."})
final class PerplexityCommand implements Callable<Integer> {
    @Mixin
    ModelOptions opts;

    @Mixin
    CacheFlags cacheFlags;

    @Mixin
    RoutingFlags routingFlags;

    @Option(names = {"-f", "--file"}, required = true, description = "the text (e.g. ../shared/corpus/test.txt)")
    Path file;

    @Option(names = "--chunks", defaultValue = "0", description = "evaluate at most this many chunks (default: all)")
    int chunks;

    @Option(names = "--save-logits", paramLabel = "FILE", description = "save the scored positions' log-probabilities (F16) for a later --kl-base")
    Path saveLogits;

    @Option(names = "--kl-base", paramLabel = "FILE", description = "a --save-logits file of a base run over the same text and -c")
    Path klBase;

    @Option(names = "--json", description = "print JSON")
    boolean json;

    @Override
    public Integer call() throws Exception {
        String text = Files.readString(file, StandardCharsets.UTF_8);
        int ctx = opts.context > 0 ? opts.context : 512;
        try (Engine e = routingFlags.open(opts, ctx, opts.batch(), cacheFlags.options())) {
            e.startupReport().forEach(l -> System.err.println("moed: " + l));
            Progress bar = new Progress("moed perplexity");
            Perplexity.Result r = Perplexity.run(e, text, ctx, chunks, saveLogits, klBase, (done, total, running) -> {
                bar.update(done, total);
                if (!json && (done == total || done % Math.max(1, total / 10) == 0)) {
                    System.err.printf("moed perplexity: [%d/%d] running PPL %.4f%n", done, total, running);
                }
            });
            if (json) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("ppl", r.ppl());
                m.put("ppl_error", r.error());
                m.put("chunks", r.chunks());
                m.put("ctx", r.ctx());
                m.put("scored_tokens", r.scored());
                m.put("tokens_per_s", r.tokens() / r.seconds());
                if (r.kl() != null) {
                    m.put("base_ppl", r.kl().basePpl());
                    m.put("ppl_ratio", r.ppl() / r.kl().basePpl());
                    m.put("kl_mean", r.kl().mean());
                    m.put("kl_median", r.kl().median());
                    m.put("kl_p99", r.kl().p99());
                    m.put("top1_agreement", r.kl().top1Agreement());
                }
                System.out.println(Json.write(m));
            } else {
                System.out.printf("Final estimate: PPL = %.4f +/- %.5f over %d chunks of %d tokens (%d scored, %.0f tokens/s)%n",
                        r.ppl(), r.error(), r.chunks(), r.ctx(), r.scored(), r.tokens() / r.seconds());
                if (r.kl() != null) {
                    System.out.printf("against the base run: PPL ratio %.4f (base %.4f) | KL mean %.5f, median %.5f, 99th pct %.5f |"
                                    + " same top token %.2f%%%n", r.ppl() / r.kl().basePpl(), r.kl().basePpl(), r.kl().mean(),
                            r.kl().median(), r.kl().p99(), 100 * r.kl().top1Agreement());
                }
            }
        }
        return 0;
    }
}
