package moed.tools.cli;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import moed.runtime.Engine;
import moed.tools.ipc.IpcAccess;
import moed.tools.ipc.IpcDirectory;
import moed.tools.ipc.MoedServer;
import moed.tools.http.HttpApi;
import moed.tools.serve.Daemon;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code moed serve}: load a model once and serve prompts from local clients over shared memory until stopped. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Serve a model to local clients ('moed submit', MoedClient) over Agrona shared-memory rings, and with"
                + " --http to OpenAI clients over HTTP, until SIGINT/SIGTERM. Requests of both kinds decode together"
                + " (continuous batching). Records JFR to <state-dir>/serve.jfr unless --jfr says otherwise or --no-jfr."})
final class ServeCommand implements Callable<Integer> {
    @Mixin
    ModelOptions opts;

    @Mixin
    CacheFlags cacheFlags;

    @Mixin
    RoutingFlags routingFlags;

    @Mixin
    ChatTemplateOption chatTemplate;

    @Option(names = "--ipc-dir", description = "directory of the shared-memory rings (default: ~/.moed/ipc)")
    Path ipcDir;

    @Option(names = "--ipc-group", paramLabel = "GROUP", description = "share the IPC directory with this group (directory"
            + " 0770, files 0660); by default only this user may use it (0700, files 0600)")
    String ipcGroup;

    @Option(names = "--max-sequences", defaultValue = "8", description = "requests decoded together; more wait in a queue (default: ${DEFAULT-VALUE})")
    int maxSequences;

    @Option(names = "--max-queue", defaultValue = "64", description = "requests that may wait for a place beyond --max-sequences;"
            + " more are refused (HTTP 429 with Retry-After, IPC 'busy') (default: ${DEFAULT-VALUE})")
    int maxQueue;

    @Option(names = "--http", arity = "0..1", fallbackValue = "127.0.0.1:8080", paramLabel = "HOST:PORT",
            description = "also serve the OpenAI-compatible HTTP API (/v1/chat/completions, /v1/completions, /v1/models,"
                    + " /health, /metrics) here; 127.0.0.1:8080 when given without a value")
    String http;

    @Option(names = "--api-key-file", paramLabel = "FILE", description = "with --http: /v1 requests must send"
            + " 'Authorization: Bearer <the file's first line>' (or set MOED_API_KEY); required to listen beyond loopback")
    Path apiKeyFile;

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
        // The HTTP API listens before the model loads, so /health can say "loading" rather than nothing.
        InetSocketAddress httpAt = http != null ? httpAddress(http) : null;
        HttpApi api = httpAt != null ? HttpApi.start(httpAt, opts.model().getFileName().toString(), apiKey(httpAt), System.err) : null;
        if (api != null) {
            System.err.println("moed serve: HTTP API on http://" + hostPort(api.address()) + "/v1 (health: /health, metrics: /metrics)");
        }
        Engine engine;
        try {
            Progress load = new Progress("moed serve: loading " + opts.model().getFileName());
            load.update(0, 1);
            engine = routingFlags.open(opts, opts.context, opts.batch(), cacheFlags.options());
            load.update(1, 1);
        } catch (Exception | Error e) {
            if (api != null) {
                api.close();
            }
            throw e;
        }
        try {
            chatTemplate.apply(engine);
        } catch (IOException | RuntimeException e) {
            engine.close();
            if (api != null) {
                api.close();
            }
            throw e;
        }
        if (api != null) {
            api.warming();
        }
        engine.startupReport().forEach(l -> System.err.println("moed serve: " + l));
        warmProgress(engine, stopRequested);
        if (!stopRequested.get()) {
            // Compiles the forward pass before the first request (which otherwise ran its prompt several times slower).
            long w0 = System.nanoTime();
            int rounds = engine.warmUp(2_000_000_000L);
            System.err.printf("moed serve: warmed the compiled code with %d short generation%s in %.1f s%n", rounds,
                    rounds == 1 ? "" : "s", (System.nanoTime() - w0) / 1e9);
        }
        if (stopRequested.get()) {
            engine.close();
            if (api != null) {
                api.close();
            }
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
        Daemon daemon;
        MoedServer server;
        try {
            daemon = new Daemon(engine, maxSequences, maxQueue);
            try {
                IpcAccess access = ipcGroup != null ? IpcAccess.group(dir, ipcGroup) : IpcAccess.owner();
                server = new MoedServer(daemon, new IpcDirectory(dir, access), clientTimeout, System.err);
            } catch (RuntimeException | IOException e) {
                daemon.close();
                throw e;
            }
        } catch (RuntimeException | IOException e) {
            if (api != null) {
                api.close();
            }
            engine.close();
            throw e;
        }
        if (api != null) {
            api.serve(daemon);
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
        System.err.printf("moed serve: serving %s on %s%s (%d sequences at once, %d threads) in %.1f s; stop with Ctrl-C%n",
                opts.model().getFileName(), dir, api != null ? " and http://" + hostPort(api.address()) : "", maxSequences,
                engine.threads(), (System.nanoTime() - t0) / 1e9);
        server.awaitStop();
        engine.close();
        System.err.println("moed serve: stopped");
        return 0;
    }

    /** HOST:PORT (an IPv6 host in brackets) as an address to listen on. */
    static InetSocketAddress httpAddress(String hostPort) {
        URI u;
        try {
            u = URI.create("http://" + hostPort);
        } catch (IllegalArgumentException e) {
            u = null;
        }
        if (u == null || u.getHost() == null || u.getPort() < 0 || u.getPath() != null && !u.getPath().isEmpty()) {
            throw new IllegalArgumentException("--http " + hostPort + ": give HOST:PORT, such as 127.0.0.1:8080 or [::1]:8080");
        }
        return new InetSocketAddress(u.getHost().replaceAll("^\\[|\\]$", ""), u.getPort());
    }

    private static String hostPort(InetSocketAddress a) {
        String host = a.getAddress().getHostAddress();
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
    }

    /**
     * The key /v1 requests must carry: from --api-key-file, else MOED_API_KEY (never a command-line value, which
     * other users see in ps). Listening beyond loopback without one is refused: the model would serve anyone.
     */
    private String apiKey(InetSocketAddress listenAt) throws IOException {
        String key = null;
        if (apiKeyFile != null) {
            key = Files.readAllLines(apiKeyFile).stream().findFirst().orElse("").trim();
            if (key.isEmpty()) {
                throw new IllegalArgumentException("--api-key-file " + apiKeyFile + ": its first line is empty");
            }
        } else if (System.getenv("MOED_API_KEY") != null && !System.getenv("MOED_API_KEY").isBlank()) {
            key = System.getenv("MOED_API_KEY").trim();
        }
        InetAddress ip = listenAt.getAddress();
        if (key == null && (ip == null || !ip.isLoopbackAddress())) {
            throw new IllegalArgumentException("--http " + http + " listens beyond this machine: give --api-key-file FILE (or set"
                    + " MOED_API_KEY) so that only clients with the key are served, or listen on 127.0.0.1");
        }
        return key;
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
