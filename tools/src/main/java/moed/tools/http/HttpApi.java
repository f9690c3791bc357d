package moed.tools.http;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import moed.tools.serve.Daemon;

/**
 * The OpenAI-compatible HTTP API of {@code moed serve --http}: chat and text completions (whole or streamed as
 * server-sent events), the model list, health and Prometheus metrics, on the daemon's shared scheduler.
 *
 * <p>The JDK's own server ({@code com.sun.net.httpserver}) does the HTTP: it parses requests, keeps connections
 * alive and frames streamed replies in chunks, with no dependency to ship; each exchange runs on a virtual thread, so
 * a client waiting for its tokens holds no platform thread and 32 streaming clients cost 32 small stacks. Jackson
 * reads and writes every JSON body.
 *
 * <p>The server listens from the start of {@code moed serve}, before the model is loaded: {@code /health} answers 503
 * ("loading", then "warming") until the daemon serves, so an orchestrator can tell starting from dead.
 */
public final class HttpApi implements Daemon.FrontEnd, AutoCloseable {
    /** Bodies above this are refused with 413 (their declared length decides, before any JSON is parsed). */
    public static final int MAX_BODY_BYTES = 8 << 20;
    /**
     * A refused body up to this size is still read and dropped: a client writes its whole body before it reads the
     * answer, and closing the connection on unread bytes resets it, so the client would see no status at all
     * (the test saw "header parser received no bytes" now and then). Larger ones are closed on unread.
     */
    static final long DRAIN_BYTES = 4L * MAX_BODY_BYTES;

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Where the daemon is in its life, as /health reports it. */
    enum State {
        LOADING, WARMING, READY, STOPPING;

        /** As /health and errors say it. */
        String label() {
            return this == READY ? "ok" : name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    private interface Handler {
        void handle(HttpExchange ex) throws IOException, InterruptedException;
    }

    private final HttpServer server;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final String model;
    private final byte[] apiKey;
    private final PrintStream log;
    private final Metrics metrics = new Metrics();
    private final Map<String, Map<String, Handler>> routes;
    private volatile State state = State.LOADING;
    private volatile Daemon daemon;
    private volatile Completions completions;

    private HttpApi(InetSocketAddress address, String model, String apiKey, PrintStream log) throws IOException {
        this.model = model;
        this.apiKey = apiKey == null ? null : apiKey.getBytes(StandardCharsets.UTF_8);
        this.log = log;
        this.routes = Map.of(
                "/v1/chat/completions", Map.of("POST", ex -> complete(ex, true)),
                "/v1/completions", Map.of("POST", ex -> complete(ex, false)),
                "/v1/models", Map.of("GET", this::models),
                "/health", Map.of("GET", this::health),
                "/metrics", Map.of("GET", this::metrics));
        this.server = HttpServer.create(address, 128);
        server.createContext("/", this::exchange);
        server.setExecutor(executor);
        server.start();
    }

    /**
     * Listens on {@code address} at once (port 0: any free port); completions are refused with 503 until
     * {@link #serve}. {@code apiKey}: when not null, /v1 requests need {@code Authorization: Bearer <key>}.
     */
    public static HttpApi start(InetSocketAddress address, String model, String apiKey, PrintStream log) throws IOException {
        return new HttpApi(address, model, apiKey, log);
    }

    public InetSocketAddress address() {
        return server.getAddress();
    }

    /** The model is loaded; the daemon warms its cache and compiled code. */
    public void warming() {
        state = State.WARMING;
    }

    /** Serves completions on {@code d}'s scheduler from now on; the daemon stops this API when it closes. */
    public void serve(Daemon d) {
        this.completions = new Completions(d.scheduler(), model);
        this.daemon = d;
        d.attach(this);
        state = State.READY;
    }

    @Override
    public void stopAccepting() {
        state = State.STOPPING;
    }

    /** Closes the listening socket; streams still open get a second to send the shutdown error they were given. */
    @Override
    public void release() {
        state = State.STOPPING;
        server.stop(1);
        executor.shutdown();
    }

    /** Stops the daemon this API serves (and so its other front ends), or only the API before it serves. */
    @Override
    public void close() {
        Daemon d = daemon;
        if (d != null) {
            d.close();
        } else {
            release();
        }
    }

    private void exchange(HttpExchange ex) {
        String path = ex.getRequestURI().getPath();
        Map<String, Handler> methods = routes.get(path);
        String route = methods != null ? path : "other";
        int status = 500;
        try (ex) {
            try {
                if (methods == null) {
                    throw new ApiError(404, "invalid_request_error", null, "not_found", "no such path: " + path
                            + " (moed serves /v1/chat/completions, /v1/completions, /v1/models, /health and /metrics)");
                }
                Handler h = methods.get(ex.getRequestMethod());
                if (h == null) {
                    ex.getResponseHeaders().set("Allow", String.join(", ", methods.keySet()));
                    throw new ApiError(405, "invalid_request_error", null, "method_not_allowed", ex.getRequestMethod() + " "
                            + path + " is not allowed; use " + String.join(" or ", methods.keySet()));
                }
                if (path.startsWith("/v1/")) {
                    authorize(ex);
                }
                h.handle(ex);
            } catch (ApiError e) {
                if (ex.getResponseCode() == -1) {
                    sendJson(ex, e.status, e.body());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException e) {
                // A bug must not take the server down: the client hears of it, the log names the class only (the
                // message may quote the client's text).
                log.println("moed serve: error answering " + ex.getRequestMethod() + " " + route + ": " + e.getClass().getName());
                if (ex.getResponseCode() == -1) {
                    sendJson(ex, 500, new ApiError(500, "server_error", null, "internal", e.toString()).body());
                }
            }
            status = ex.getResponseCode();
        } catch (IOException e) {
            status = 499; // the client went away (nginx's code for it; only counted, never sent)
        } finally {
            metrics.countHttp(route, status);
        }
    }

    private void authorize(HttpExchange ex) {
        if (apiKey == null) {
            return;
        }
        String h = ex.getRequestHeaders().getFirst("Authorization");
        byte[] given = h != null && h.startsWith("Bearer ") ? h.substring(7).trim().getBytes(StandardCharsets.UTF_8) : new byte[0];
        if (!MessageDigest.isEqual(given, apiKey)) { // constant time: the comparison must not reveal a prefix
            ex.getResponseHeaders().set("WWW-Authenticate", "Bearer");
            throw new ApiError(401, "invalid_request_error", null, "invalid_api_key", h == null
                    ? "this server needs an API key: send 'Authorization: Bearer <key>'" : "the API key is not this server's");
        }
    }

    private void complete(HttpExchange ex, boolean chat) throws IOException, InterruptedException {
        JsonNode body = readJson(ex);
        Completions c = completions;
        if (state != State.READY || c == null) {
            ex.getResponseHeaders().set("Retry-After", "5");
            State now = state;
            throw new ApiError(503, "server_error", null, now.label(), "the server is " + now.label() + "; try again shortly");
        }
        c.run(ex, chat ? ApiRequest.chat(body) : ApiRequest.completion(body), chat);
    }

    private JsonNode readJson(HttpExchange ex) throws IOException {
        String declared = ex.getRequestHeaders().getFirst("Content-Length");
        if (declared != null) {
            long n;
            try {
                n = Long.parseLong(declared.trim());
            } catch (NumberFormatException e) {
                n = -1;
            }
            if (n > MAX_BODY_BYTES) {
                if (n <= DRAIN_BYTES) {
                    try (InputStream in = ex.getRequestBody()) {
                        drop(in, n);
                    }
                }
                throw tooLarge(n + " bytes");
            }
        }
        byte[] bytes;
        try (InputStream in = ex.getRequestBody()) {
            bytes = in.readNBytes(MAX_BODY_BYTES + 1);
            if (bytes.length > MAX_BODY_BYTES) {
                drop(in, DRAIN_BYTES - bytes.length); // no declared length (a chunked body): dropped as a declared one is
                throw tooLarge("more than that");
            }
        }
        if (bytes.length == 0) {
            throw ApiError.invalid(null, "the body is empty: send a JSON object");
        }
        try {
            return JSON.readTree(bytes);
        } catch (JacksonException e) {
            throw ApiError.invalid(null, "the body is not valid JSON: " + e.getOriginalMessage()
                    + (e.getLocation() != null ? " (line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")" : ""));
        }
    }

    /** Reads and forgets up to {@code limit} bytes of a refused body (see {@link #DRAIN_BYTES}). */
    private static void drop(InputStream in, long limit) throws IOException {
        byte[] sink = new byte[64 * 1024];
        int n;
        while (limit > 0 && (n = in.read(sink, 0, (int) Math.min(sink.length, limit))) > 0) {
            limit -= n;
        }
    }

    private static ApiError tooLarge(String size) {
        return new ApiError(413, "invalid_request_error", null, "request_too_large",
                "the body is " + size + "; at most " + MAX_BODY_BYTES + " bytes are accepted");
    }

    private void models(HttpExchange ex) throws IOException {
        ObjectNode r = JSON.createObjectNode();
        r.put("object", "list");
        ObjectNode m = r.putArray("data").addObject();
        m.put("id", model);
        m.put("object", "model");
        m.put("created", 0);
        m.put("owned_by", "moed");
        sendJson(ex, 200, r);
    }

    private void health(HttpExchange ex) throws IOException {
        State s = state;
        ObjectNode r = JSON.createObjectNode();
        r.put("status", s.label());
        if (s != State.READY) {
            ex.getResponseHeaders().set("Retry-After", "5");
        }
        sendJson(ex, s == State.READY ? 200 : 503, r);
    }

    private void metrics(HttpExchange ex) throws IOException {
        byte[] body = metrics.scrape(daemon);
        ex.getResponseHeaders().set("Content-Type", Metrics.CONTENT_TYPE);
        ex.sendResponseHeaders(200, body.length);
        ex.getResponseBody().write(body);
    }

    static void sendJson(HttpExchange ex, int status, JsonNode body) throws IOException {
        byte[] bytes = JSON.writeValueAsBytes(body);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, bytes.length);
        ex.getResponseBody().write(bytes);
    }
}
