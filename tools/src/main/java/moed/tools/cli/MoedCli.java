package moed.tools.cli;

import moed.runtime.config.SettingException;
import picocli.CommandLine.Command;
import picocli.CommandLine;

/** The {@code moed} command line: one subcommand per job; {@code moed help COMMAND} explains each. */
@Command(name = "moed", mixinStandardHelpOptions = true, version = "moed 0.1.0",
        description = "Runs Mixture-of-Experts language models from GGUF files.",
        subcommands = {ModelCommand.class, RunCommand.class, BenchCommand.class, AnalyzeCommand.class, PerplexityCommand.class, ServeCommand.class, SubmitCommand.class, StatusCommand.class, StatsCommand.class, CommandLine.HelpCommand.class})
public final class MoedCli implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @CommandLine.Option(names = "--debug", description = "print the stack trace of an error, not only its message (give it before the command)")
    boolean debug;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the CLI; errors a person can act on are printed as one line, not a stack trace. */
    public static int execute(String... args) {
        MoedCli top = new MoedCli();
        CommandLine cl = new CommandLine(top);
        SettingFlags.registerConverters(cl);
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            Throwable t = ex;
            if (t instanceof java.io.UncheckedIOException u) {
                t = u.getCause();
            }
            String msg = t.getMessage() == null ? t.toString() : t.getMessage();
            if (t instanceof java.nio.file.NoSuchFileException) {
                msg = "no such file: " + t.getMessage();
            }
            if (t instanceof SettingException s) {
                msg += " [" + SettingFlags.flag(s.setting()) + "]";
            }
            cmd.getErr().println("moed: " + msg);
            if (top.debug) {
                t.printStackTrace(cmd.getErr());
            }
            return 1;
        });
        return cl.execute(args);
    }
}
