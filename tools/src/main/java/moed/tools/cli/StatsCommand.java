package moed.tools.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import moed.cache.StatisticsStore;
import moed.runtime.gguf.GgufFile;
import moed.runtime.model.Model;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code moed stats show|reset}: the statistics persisted for a model across runs. */
@Command(name = "stats", mixinStandardHelpOptions = true, description = "Show or reset a model's persisted expert statistics.",
        subcommands = {StatsCommand.Show.class, StatsCommand.Reset.class})
final class StatsCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    static StatisticsStore open(ModelOptions m, Path stateDir) throws Exception {
        try (GgufFile f = GgufFile.open(m.model())) {
            Model model = Model.load(f);
            var c = model.config();
            if (!c.isMoe()) {
                throw new IllegalArgumentException(m.model() + " has no experts");
            }
            return StatisticsStore.open(stateDir != null ? stateDir : CacheFlags.defaultStateDir(), model.identity(),
                    c.layers(), c.experts());
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Print the hottest experts per layer and totals.")
    static final class Show implements Callable<Integer> {
        @Mixin
        ModelOptions model;
        @Option(names = "--state-dir", description = "statistics folder (default: ~/.moed)")
        Path stateDir;
        @Option(names = "--top", defaultValue = "4", description = "experts listed per layer (default: ${DEFAULT-VALUE})")
        int top;
        @Option(names = "--json", description = "print JSON")
        boolean json;

        @Override
        public Integer call() throws Exception {
            try (StatisticsStore st = open(model, stateDir); GgufFile f = GgufFile.open(model.model())) {
                var c = Model.load(f).config();
                long[] totals = new long[StatisticsStore.FIELDS.length];
                List<Map<String, Object>> layers = new ArrayList<>();
                for (int l = 0; l < c.layers(); l++) {
                    List<long[]> rows = new ArrayList<>();
                    for (int e = 0; e < c.experts(); e++) {
                        long[] v = st.expert(l, e);
                        for (int i = 0; i < totals.length; i++) {
                            totals[i] += v[i];
                        }
                        rows.add(new long[] {e, v[0], v[1], v[2]});
                    }
                    rows.sort((a, b) -> Long.compare(b[1], a[1]));
                    List<Map<String, Object>> hot = new ArrayList<>();
                    for (long[] r : rows.subList(0, Math.min(top, rows.size()))) {
                        hot.add(Map.of("expert", r[0], "activations", r[1], "hits", r[2], "misses", r[3]));
                    }
                    layers.add(Map.of("layer", l, "hottest", hot));
                }
                Map<String, Object> out = new LinkedHashMap<>();
                out.put("file", st.file().toString());
                Map<String, Object> t = new LinkedHashMap<>();
                for (int i = 0; i < totals.length; i++) {
                    t.put(StatisticsStore.FIELDS[i], totals[i]);
                }
                out.put("totals", t);
                out.put("layers", layers);
                if (json) {
                    System.out.println(Json.write(out));
                } else {
                    System.out.println("statistics: " + st.file());
                    System.out.println("totals: " + t);
                    for (Map<String, Object> l : layers) {
                        StringBuilder sb = new StringBuilder();
                        for (Object h : (List<?>) l.get("hottest")) {
                            Map<?, ?> m = (Map<?, ?>) h;
                            sb.append(String.format("  E%-3s %8s act %6s hit %6s miss", m.get("expert"), m.get("activations"), m.get("hits"), m.get("misses")));
                        }
                        System.out.printf("layer %-3s%s%n", l.get("layer"), sb);
                    }
                }
            }
            return 0;
        }
    }

    @Command(name = "reset", mixinStandardHelpOptions = true, description = "Forget a model's persisted statistics.")
    static final class Reset implements Callable<Integer> {
        @Mixin
        ModelOptions model;
        @Option(names = "--state-dir", description = "statistics folder (default: ~/.moed)")
        Path stateDir;

        @Override
        public Integer call() throws Exception {
            try (StatisticsStore st = open(model, stateDir)) {
                st.reset();
                System.out.println("reset " + st.file());
            }
            return 0;
        }
    }
}
