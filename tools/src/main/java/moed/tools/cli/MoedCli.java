package moed.tools.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code moed} command line: one subcommand per job; {@code moed help COMMAND} explains each. */
@Command(name = "moed", mixinStandardHelpOptions = true, version = "moed 0.1.0",
        description = "Runs Mixture-of-Experts language models from GGUF files.",
        subcommands = {ModelCommand.class, RunCommand.class, BenchCommand.class, AnalyzeCommand.class, PerplexityCommand.class, ServeCommand.class, SubmitCommand.class, StatusCommand.class, StatsCommand.class, CommandLine.HelpCommand.class})
public final class MoedCli implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the CLI; errors a person can act on are printed as one line, not a stack trace. */
    public static int execute(String... args) {
        CommandLine cl = new CommandLine(new MoedCli());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            Throwable t = ex;
            if (t instanceof java.io.UncheckedIOException u) {
                t = u.getCause();
            }
            String msg = t.getMessage() == null ? t.toString() : t.getMessage();
            if (t instanceof java.nio.file.NoSuchFileException) {
                msg = "no such file: " + t.getMessage();
            }
            cmd.getErr().println("moed: " + msg);
            if (Boolean.getBoolean("moed.debug")) {
                t.printStackTrace(cmd.getErr());
            }
            return 1;
        });
        return cl.execute(args);
    }
}
