package moed.tools.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import moed.runtime.Engine;
import moed.tools.ipc.IpcAccess;
import moed.tools.ipc.IpcDirectory;
import moed.tools.ipc.MoedServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code moed serve}: load a model once and serve prompts from local clients over shared memory until stopped. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Serve a model to local clients ('moed submit', MoedClient) over Agrona shared-memory rings until"
                + " SIGINT/SIGTERM. Requests decode together (continuous batching). Records JFR to <state-dir>/serve.jfr"
                + " unless --jfr says otherwise or --no-jfr."})
final class ServeCommand implements Callable<Integer> {
    @Mixin
    ModelOptions opts;

    @Mixin
    CacheFlags cacheFlags;

    @Mixin
    RoutingFlags routingFlags;

    @Option(names = "--ipc-dir", description = "directory of the shared-memory rings (default: ~/.moed/ipc)")
    Path ipcDir;

    @Option(names = "--ipc-group", paramLabel = "GROUP", description = "share the IPC directory with this group (directory"
            + " 0770, files 0660); by default only this user may use it (0700, files 0600)")
    String ipcGroup;

    @Option(names = "--max-sequences", defaultValue = "8", description = "requests decoded together; more wait in a queue (default: ${DEFAULT-VALUE})")
    int maxSequences;

    @Option(names = "--no-jfr", description = "do not record")
    boolean noJfr;

    @Option(names = "--jfr-max-mb", defaultValue = "256", description = "the default recording keeps this many MiB of the newest events (default: ${DEFAULT-VALUE})")
    long jfrMaxMb;

    @Option(names = "--client-timeout-ms", defaultValue = "5000", description = "a client silent this long is dropped and its requests cancelled (default: ${DEFAULT-VALUE})")
    long clientTimeout;

    static Path defaultIpcDir() {
        return CacheFlags.defaultStateDir().resolve("ipc");
    }

    @Override
    public Integer call() throws Exception {
        Path dir = ipcDir != null ? ipcDir : defaultIpcDir();
        long t0 = System.nanoTime();
        // SIGTERM, SIGINT and SIGHUP are handled here from the start, not by the JVM's default (shutdown hooks, exit 143):
        // before the server runs, they make loading and warming stop at the next check and the engine close on
        // this thread; once it runs, they stop the server (see below).
        AtomicReference<MoedServer> running = new AtomicReference<>();
        AtomicBoolean stopRequested = new AtomicBoolean();
        AtomicReference<Path> recordingFile = new AtomicReference<>();
        sun.misc.SignalHandler stop = signal -> {
            stopRequested.set(true);
            MoedServer s = running.get();
            Path recording = recordingFile.get();
            System.err.println("moed serve: stopping (SIG" + signal.getName() + ")" + (s == null ? " before serving"
                    : ": requests in flight get an error reply; flushing statistics"
                            + (recording != null ? " and the recording " + recording : "")));
            if (s != null) {
                s.close();
            }
        };
        sun.misc.Signal.handle(new sun.misc.Signal("TERM"), stop);
        sun.misc.Signal.handle(new sun.misc.Signal("INT"), stop);
        sun.misc.Signal.handle(new sun.misc.Signal("HUP"), stop); // the terminal closed: stop as cleanly
        Progress load = new Progress("moed serve: loading " + opts.model().getFileName());
        load.update(0, 1);
        Engine engine = routingFlags.open(opts, opts.context, opts.batch(), cacheFlags.options());
        load.update(1, 1);
        engine.startupReport().forEach(l -> System.err.println("moed serve: " + l));
        warmProgress(engine, stopRequested);
        if (stopRequested.get()) {
            engine.close();
            System.err.println("moed serve: stopped before serving");
            return 0;
        }
        Path jfr = cacheFlags.jfr;
        if (jfr == null && !noJfr) {
            Path state = cacheFlags.stateDir != null ? cacheFlags.stateDir : CacheFlags.defaultStateDir();
            java.nio.file.Files.createDirectories(state);
            jfr = state.resolve("serve.jfr");
        }
        if (jfr != null && !noJfr) {
            engine.startRecording(jfr, jfrMaxMb << 20);
        }
        MoedServer server;
        try {
            IpcAccess access = ipcGroup != null ? IpcAccess.group(dir, ipcGroup) : IpcAccess.owner();
            server = new MoedServer(engine, new IpcDirectory(dir, access), maxSequences, clientTimeout, System.err);
        } catch (RuntimeException | java.io.IOException e) {
            engine.close();
            throw e;
        }
        // From now on SIGTERM and SIGINT stop the server, before the JVM begins to exit, and this thread then
        // closes the engine (statistics, the recording). Stopping from a shutdown hook raced JFR's own exit hook,
        // which runs at the same time and dumps and removes the same recording: now and then serve.jfr came out
        // empty ("Unable to complete I/O operation when dumping recording"). Now JFR's hook finds it closed.
        recordingFile.set(jfr);
        running.set(server);
        if (stopRequested.get()) {
            server.close(); // a signal between the check above and now
        }
        System.err.printf("moed serve: serving %s on %s (%d sequences at once, %d threads) in %.1f s; stop with Ctrl-C%n",
                opts.model().getFileName(), dir, maxSequences, engine.threads(), (System.nanoTime() - t0) / 1e9);
        server.awaitStop();
        engine.close();
        System.err.println("moed serve: stopped");
        return 0;
    }

    /** Waits (with a progress bar) for the warm-start loads the engine queued, or until a stop is asked for. */
    private static void warmProgress(Engine e, AtomicBoolean stop) throws InterruptedException {
        var cache = e.cache();
        if (cache == null) {
            return;
        }
        Progress p = new Progress("moed serve: warming the cache");
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (System.nanoTime() < deadline && !stop.get()) {
            int loading = cache.loadingCount();
            int resident = cache.residentCount();
            p.update(resident, resident + loading);
            if (loading == 0) {
                return;
            }
            Thread.sleep(50);
        }
    }
}
