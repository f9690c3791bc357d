package moed.tools.cli;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import moed.cache.CacheCounters;
import moed.kernels.Dot;
import moed.runtime.Engine;
import moed.runtime.sampling.SamplerConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code moed run}: generate text from a prompt, streaming it, then report speeds. */
@Command(name = "run", mixinStandardHelpOptions = true, description = "Generate text from a prompt and print prompt and decode tokens/s.")
final class RunCommand implements Callable<Integer> {
    @Mixin
    ModelOptions opts;

    @Mixin
    CacheFlags cacheFlags;

    @Mixin
    RoutingFlags routingFlags;

    @Option(names = {"-p", "--prompt"}, required = true, description = "the prompt text (with --chat: the user's message)")
    String prompt;

    @Mixin
    ChatFlags chatFlags;

    @Mixin
    ChatTemplateOption chatTemplate;

    @Option(names = {"-n", "--n-predict"}, defaultValue = "64", description = "tokens to generate (default: ${DEFAULT-VALUE})")
    int n;

    @Mixin
    SamplingFlags sampling;

    @Option(names = "--output", defaultValue = "text", description = "text (streamed) or json (ids, text, timings)")
    String output;

    @Override
    public Integer call() throws Exception {
        if (!output.equals("text") && !output.equals("json")) {
            throw new IllegalArgumentException("--output must be text or json, got " + output);
        }
        if (n < 0) {
            throw new IllegalArgumentException("-n must be >= 0, got " + n);
        }
        chatFlags.check();
        boolean chat = chatFlags.chat;
        SamplerConfig cfg = sampling.config();
        boolean text = output.equals("text");
        try (Engine e = routingFlags.open(opts, opts.context, opts.batch(), cacheFlags.options())) {
            e.startupReport().forEach(l -> System.err.println("moed: " + l));
            chatTemplate.apply(e);
            if (cacheFlags.jfr != null) {
                e.startRecording(cacheFlags.jfr);
            }
            var before = e.cache() != null ? e.cache().counters() : null;
            // Taken when the first token is chosen (from the prefill's logits): what follows is decode alone.
            CacheCounters[] decodeStart = {null};
            int[] ids;
            if (chat) {
                ids = e.encodeChat(chatFlags.conversation(prompt));
            } else {
                ids = e.encodePrompt(prompt);
            }
            if (text) {
                System.err.printf("moed: %s, %d threads, kernels: %s%n", opts.model().getFileName(), e.threads(), Dot.describe());
                if (chat) {
                    System.err.printf("moed: chat template applied: %d prompt tokens%n", ids.length);
                } else {
                    System.out.print(prompt);
                }
                System.out.flush();
            }
            Engine.Generation g = e.generate(ids, n, cfg, (id, piece) -> {
                if (before != null && decodeStart[0] == null) {
                    decodeStart[0] = e.cache().counters();
                }
                if (text) {
                    System.out.print(piece);
                    System.out.flush();
                }
                return true;
            });
            if (before != null) {
                String w = e.thrashWarning(before, e.cache().counters(), g.prefillNanos() + g.decodeNanos());
                if (w != null) {
                    System.err.println("moed: warning: " + w);
                }
            }
            if (text) {
                System.out.println();
                System.err.printf("prompt: %d tokens, %.1f tokens/s | decode: %d tokens, %.1f tokens/s | stop: %s%n",
                        g.promptIds().length, g.prefillTokensPerSecond(), g.generatedIds().length, g.decodeTokensPerSecond(),
                        g.stopReason());
            } else {
                Map<String, Object> r = new LinkedHashMap<>();
                r.put("model", opts.model().toString());
                r.put("prompt", prompt);
                r.put("prompt_ids", g.promptIds());
                r.put("generated_ids", g.generatedIds());
                r.put("text", g.text());
                r.put("stop_reason", g.stopReason().toString());
                r.put("threads", e.threads());
                r.put("prefill_ms", g.prefillNanos() / 1e6);
                r.put("decode_ms", g.decodeNanos() / 1e6);
                r.put("prefill_tokens_per_s", g.prefillTokensPerSecond());
                r.put("decode_tokens_per_s", g.decodeTokensPerSecond());
                if (before != null) {
                    CacheCounters start = decodeStart[0] != null ? decodeStart[0] : e.cache().counters();
                    CacheCounters decode = CacheFigures.add(new CacheCounters(0), start, e.cache().counters());
                    r.put("cache", CacheFigures.decode(e, decode, Math.max(g.generatedIds().length - 1, 0), g.decodeNanos()));
                }
                System.out.println(Json.write(r));
            }
        }
        return 0;
    }
}
