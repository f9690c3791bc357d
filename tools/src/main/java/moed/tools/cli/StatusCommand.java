package moed.tools.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import moed.tools.ipc.MoedClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code moed status}: what a running server is doing. */
@Command(name = "status", mixinStandardHelpOptions = true, description = "Show a running server's model, cache use, hit rate, active sequences and tokens/s.")
final class StatusCommand implements Callable<Integer> {
    @Option(names = "--ipc-dir", description = "the server's IPC directory (default: ~/.moed/ipc)")
    Path ipcDir;

    @Option(names = "--json", description = "print the raw JSON")
    boolean json;

    @Override
    public Integer call() throws Exception {
        try (MoedClient c = MoedClient.connect(ipcDir != null ? ipcDir : ServeCommand.defaultIpcDir())) {
            String s = c.status();
            if (json) {
                System.out.println(s);
                return 0;
            }
            var j = new com.fasterxml.jackson.databind.ObjectMapper().readTree(s);
            System.out.printf("model %s | up %.0f s | clients %d | active %d, queued %d | done %d requests, %d tokens | "
                            + "decode %.1f tok/s | cache %.1f / %.1f MiB, hit rate %s | malformed messages %d%n",
                    j.get("model").asText(), j.get("uptime_s").asDouble(), j.get("clients").asInt(),
                    j.get("active_sequences").asInt(), j.get("queued").asInt(), j.get("requests_done").asLong(),
                    j.get("tokens_generated").asLong(), j.get("decode_tokens_per_s").asDouble(),
                    j.get("cache_resident_bytes").asLong() / 1048576.0, j.get("cache_budget_bytes").asLong() / 1048576.0,
                    j.get("cache_hit_rate").isNull() ? "-" : String.format("%.1f%%", 100 * j.get("cache_hit_rate").asDouble()),
                    j.get("malformed_messages").asLong());
        }
        return 0;
    }
}
