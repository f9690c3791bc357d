package moed.tools.cli;

import java.util.List;
import moed.runtime.Engine;
import moed.runtime.TensorOverrides;
import moed.runtime.config.CacheOptions;
import moed.runtime.model.RoutingOptions;
import picocli.CommandLine.Option;

/** The quality-for-speed knobs shared by run, bench, serve and perplexity. */
final class RoutingFlags {
    @Option(names = {"-ser", "--smart-expert-reduction"}, paramLabel = "Kmin,t",
            description = "always the top Kmin experts; ranks Kmin+1..K only while their probability exceeds t times the top one's (t=0: the model's own K, t=1: exactly Kmin)")
    String ser;

    @Option(names = "--cache-aware-routing", paramLabel = "MARGIN",
            description = "replace a non-resident expert ranked below Kmin (below 1 without -ser) by a resident one whose probability is within MARGIN (needs a cache)")
    Float cacheAware;

    @Option(names = "--skip-layers", paramLabel = "LIST",
            description = "skip the attention and/or MoE of layers: e.g. 7, 5-7, moe:6, attn:3 (comma-separated)")
    String skip;

    @Option(names = {"-ot", "--override-tensor"}, paramLabel = "REGEX=resident|backing",
            description = "keep matching expert tensors pinned (resident) instead of going through the cache, as llama.cpp's -ot; repeatable")
    List<String> overrides = List.of();

    Engine open(ModelOptions opts, int context, int batch, CacheOptions cache) throws java.io.IOException {
        Engine e = Engine.open(opts.model(), opts.threads(), context, batch, cache, TensorOverrides.parse(overrides));
        try {
            RoutingOptions r = RoutingOptions.DEFAULT;
            if (ser != null) {
                r = RoutingOptions.ser(ser, r);
            }
            if (skip != null) {
                r = RoutingOptions.skip(skip, e.model().config().layers(), r);
            }
            if (cacheAware != null) {
                r = r.withCacheAwareMargin(cacheAware);
            }
            if (r != RoutingOptions.DEFAULT) {
                e.routing(r);
            }
            return e;
        } catch (RuntimeException ex) {
            e.close();
            throw ex;
        }
    }

}
