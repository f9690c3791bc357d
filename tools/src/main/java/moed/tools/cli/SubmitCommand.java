package moed.tools.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import moed.tools.ipc.MoedClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code moed submit "prompt"}: send a prompt to a running server and stream the answer to stdout; with
 * {@code --chat [--system S]}, a conversation the server formats with the model's chat template.
 */
@Command(name = "submit", mixinStandardHelpOptions = true, description = "Send a prompt to a running 'moed serve' and stream the generated text.")
final class SubmitCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "PROMPT", description = "the prompt text (with --chat: the user's message)")
    String prompt;

    @picocli.CommandLine.Mixin
    ChatFlags chatFlags;

    @Option(names = "--ipc-dir", description = "the server's IPC directory (default: ~/.moed/ipc)")
    Path ipcDir;

    @Option(names = {"-n", "--n-predict"}, defaultValue = "64", description = "tokens to generate (default: ${DEFAULT-VALUE})")
    int n;

    @picocli.CommandLine.Mixin
    SamplingFlags sampling;

    @Option(names = "--stop", description = "stop before this string (repeatable)")
    List<String> stops = List.of();

    @Override
    public Integer call() throws Exception {
        chatFlags.check();
        Path dir = ipcDir != null ? ipcDir : ServeCommand.defaultIpcDir();
        PrintStream sink = System.out;
        try (MoedClient c = MoedClient.connect(dir)) {
            MoedClient.Options o = new MoedClient.Options(n, sampling.temp, sampling.topK, sampling.topP, sampling.minP,
                    sampling.repeatPenalty, sampling.seed, stops);
            MoedClient.Listener print = (id, piece) -> {
                sink.print(piece);
                sink.flush();
            };
            MoedClient.Request r = chatFlags.chat ? c.submitChat(chatFlags.conversation(prompt), o, print)
                    : c.submit(prompt, o, print);
            MoedClient.Done d;
            try {
                d = r.end().get();
            } catch (ExecutionException e) {
                sink.println();
                throw (Exception) e.getCause();
            }
            sink.println();
            System.err.printf("moed: %s | prompt %d tokens (%.1f tok/s) | %d tokens generated (%.1f tok/s) | stop: %s%n",
                    c.model(), d.promptTokens(), d.promptTokens() / (d.prefillNanos() / 1e9), d.generatedTokens(),
                    d.generatedTokens() / Math.max(d.decodeNanos() / 1e9, 1e-9), d.reason());
        }
        return 0;
    }
}
