package moed.tools.ipc;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import moed.runtime.chat.ChatTemplate;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * A client of a running {@code moed serve}: submit a prompt, receive its tokens as they are generated, cancel,
 * close. One background thread reads the reply ring, stamps this client's heartbeat and watches the server's.
 * Listeners run on that thread. Thread safe.
 */
public final class MoedClient implements AutoCloseable {
    /** Sampling and stopping for one request. */
    public record Options(int maxTokens, float temperature, int topK, float topP, float minP, float repeatPenalty,
                          long seed, List<String> stops) {
        public static Options greedy(int maxTokens) {
            return new Options(maxTokens, 0f, 0, 1f, 0f, 1f, 0, List.of());
        }
    }

    /** How a request ended. */
    public record Done(String reason, int promptTokens, int generatedTokens, long prefillNanos, long decodeNanos) {
    }

    /** Receives one request's stream. */
    public interface Listener {
        void onToken(int id, String piece);

        default void onDone(Done done) {
        }

        default void onError(String code, String message) {
        }
    }

    /** A submitted request: its end can be awaited, or it can be cancelled. */
    public final class Request {
        private final long id;
        private final Listener listener;
        private final CompletableFuture<Done> end = new CompletableFuture<>();
        private final AtomicBoolean ended = new AtomicBoolean();

        Request(long id, Listener listener) {
            this.id = id;
            this.listener = listener;
        }

        public long id() {
            return id;
        }

        /** Completes with the Done, or exceptionally with a {@link ServerError}. */
        public CompletableFuture<Done> end() {
            return end;
        }

        public void cancel() {
            Encoders out = encoders.get();
            send(out.headerOnly.wrapForEncode(out.buffer, 0, Protocol.CANCEL, clientId, id));
        }

        /**
         * Ends the request with its DONE. The poller, a closing thread and a lost server may each try to end it;
         * the first wins, so the listener hears exactly one of onDone and onError, once.
         */
        void finish(Done done) {
            if (ended.compareAndSet(false, true)) {
                try {
                    listener.onDone(done);
                } finally {
                    end.complete(done);
                }
            }
        }

        /** Ends the request with an error; see {@link #finish}. */
        void fail(String code, String message) {
            if (ended.compareAndSet(false, true)) {
                try {
                    listener.onError(code, message);
                } finally {
                    end.completeExceptionally(new ServerError(code, message));
                }
            }
        }
    }

    /** An error reply from the server, or the loss of the server. */
    public static final class ServerError extends RuntimeException {
        private final String code;

        public ServerError(String code, String message) {
            super(message);
            this.code = code;
        }

        public String code() {
            return code;
        }
    }

    private final IpcDirectory dir;
    private final long clientId = ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE;
    private final IpcDirectory.MappedRing requests;
    private final IpcDirectory.MappedRing replies;
    private final long timeoutMillis;
    private final long serverInstance;
    private final String model;
    private final Map<Long, Request> open = new ConcurrentHashMap<>();
    private final Map<Long, CompletableFuture<String>> statusWaiters = new ConcurrentHashMap<>();
    private final AtomicLong nextRequest = new AtomicLong();
    private final ThreadLocal<Encoders> encoders = ThreadLocal.withInitial(Encoders::new);
    private final Thread poller;
    private volatile boolean running = true;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final AtomicBoolean unmapped = new AtomicBoolean();
    private volatile String lost;

    private MoedClient(IpcDirectory dir, long timeoutMillis) throws IOException {
        this.dir = dir;
        this.timeoutMillis = timeoutMillis;
        if (!Files.exists(dir.requestRing()) || !Files.exists(dir.infoFile())) {
            throw new IOException("no moed server at " + dir.path() + ": start one with 'moed serve --ipc-dir " + dir.path() + "'");
        }
        this.requests = IpcDirectory.openRing(dir.requestRing());
        long beat = requests.ring().consumerHeartbeatTime();
        if (System.currentTimeMillis() - beat > timeoutMillis) {
            requests.close();
            throw new IOException("the moed server at " + dir.path() + " is not responding (last heartbeat "
                    + (System.currentTimeMillis() - beat) + " ms ago): restart it with 'moed serve'");
        }
        this.replies = dir.createRing(dir.clientRing(clientId), Protocol.REPLY_RING_BYTES);
        replies.ring().consumerHeartbeatTime(System.currentTimeMillis());
        CompletableFuture<Object[]> welcome = new CompletableFuture<>();
        this.poller = new Thread(() -> poll(welcome), "moed-client-" + Long.toHexString(clientId));
        poller.setDaemon(true);
        poller.start();
        Encoders out = encoders.get();
        send(out.hello.wrapForEncode(out.buffer, 0, clientId).pid((int) ProcessHandle.current().pid()));
        Object[] w;
        try {
            w = welcome.get(timeoutMillis, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            // The server answered the hello with an error (a server of another protocol version says so).
            close();
            throw new IOException("the moed server at " + dir.path() + " refused this client: " + e.getCause().getMessage(),
                    e.getCause());
        } catch (Exception e) {
            close();
            throw new IOException("the moed server at " + dir.path() + " did not answer hello within " + timeoutMillis + " ms", e);
        }
        this.serverInstance = (Long) w[0];
        this.model = (String) w[1];
    }

    public static MoedClient connect(java.nio.file.Path ipcDir) throws IOException {
        return connect(ipcDir, Protocol.DEFAULT_TIMEOUT_MILLIS);
    }

    /** Connects; refused when the directory is missing or others can write it (see {@link IpcAccess}). */
    public static MoedClient connect(java.nio.file.Path ipcDir, long timeoutMillis) throws IOException {
        if (!Files.isDirectory(ipcDir)) {
            throw new IOException("no moed server at " + ipcDir + ": start one with 'moed serve --ipc-dir " + ipcDir + "'");
        }
        return new MoedClient(IpcDirectory.forClient(ipcDir), timeoutMillis);
    }

    /** This client's id (it names the reply ring). */
    public long clientId() {
        return clientId;
    }

    /** The model the server serves. */
    public String model() {
        return model;
    }

    /** The request codecs of one sending thread, over its own scratch buffer (no allocation once it has grown). */
    private static final class Encoders {
        final ExpandableArrayBuffer buffer = new ExpandableArrayBuffer(256);
        final HelloCodec hello = new HelloCodec();
        final SubmitCodec submit = new SubmitCodec();
        final HeaderOnlyCodec headerOnly = new HeaderOnlyCodec();
    }

    /** The reply codecs of the poller thread. */
    private static final class Decoders {
        final WelcomeCodec welcome = new WelcomeCodec();
        final TokenCodec token = new TokenCodec();
        final DoneCodec done = new DoneCodec();
        final ErrorCodec error = new ErrorCodec();
        final StatusCodec status = new StatusCodec();
    }

    private void send(MessageCodec message) {
        if (lost != null) {
            throw new ServerError("server_lost", lost);
        }
        long deadline = System.currentTimeMillis() + timeoutMillis;
        while (!message.writeTo(requests.ring())) {
            if (System.currentTimeMillis() > deadline) {
                throw new ServerError("busy", "the server's request ring stayed full for " + timeoutMillis + " ms");
            }
            LockSupport.parkNanos(100_000);
        }
    }

    /** Submits a prompt; tokens go to the listener as they come. */
    public Request submit(String prompt, Options o, Listener listener) {
        return submit(prompt.getBytes(StandardCharsets.UTF_8), SubmitCodec.TEXT, o, listener);
    }

    /**
     * Submits a conversation (roles system, user or assistant; the server refuses others, and a model without a
     * chat template) for the server to format with the model's chat template; the answer is the assistant's next
     * turn, and its tokens go to the listener as they come.
     */
    public Request submitChat(List<ChatTemplate.Message> messages, Options o, Listener listener) {
        return submit(ConversationCodec.encode(messages), SubmitCodec.CONVERSATION, o, listener);
    }

    /** Sends the prompt's bytes ({@code format}: what they hold), in chunks. */
    private Request submit(byte[] text, short format, Options o, Listener listener) {
        long id = nextRequest.incrementAndGet();
        Request r = new Request(id, listener);
        open.put(id, r);
        int chunks = Math.max(1, (text.length + Protocol.MAX_CHUNK_BYTES - 1) / Protocol.MAX_CHUNK_BYTES);
        if (chunks > Short.MAX_VALUE) {
            open.remove(id);
            throw new IllegalArgumentException("the prompt is too long to send (" + text.length + " bytes)");
        }
        try {
            Encoders out = encoders.get();
            for (int c = 0; c < chunks; c++) {
                int from = c * Protocol.MAX_CHUNK_BYTES;
                send(out.submit.wrapForEncode(out.buffer, 0, clientId, id).maxTokens(o.maxTokens()).temperature(o.temperature())
                        .topK(o.topK()).topP(o.topP()).minP(o.minP()).repeatPenalty(o.repeatPenalty()).seed(o.seed())
                        .chunk(c, chunks).promptFormat(format).stops(c == 0 ? o.stops() : List.of())
                        .promptChunk(text, from, Math.min(Protocol.MAX_CHUNK_BYTES, text.length - from)));
            }
        } catch (RuntimeException e) {
            open.remove(id);
            throw e;
        }
        return r;
    }

    /** The server's status as JSON. */
    public String status() throws Exception {
        long id = nextRequest.incrementAndGet();
        CompletableFuture<String> f = new CompletableFuture<>();
        statusWaiters.put(id, f);
        Encoders out = encoders.get();
        send(out.headerOnly.wrapForEncode(out.buffer, 0, Protocol.STATUS_REQUEST, clientId, id));
        try {
            return f.get(timeoutMillis, TimeUnit.MILLISECONDS);
        } finally {
            statusWaiters.remove(id);
        }
    }

    /** Unmaps both rings, once, by whichever of close() and the exiting poller comes last. */
    private void unmapRings() {
        if (unmapped.compareAndSet(false, true)) {
            requests.close();
            // The server may still hold the reply ring mapped; its own mapping stays valid.
            replies.close();
        }
    }

    private void poll(CompletableFuture<Object[]> welcome) {
        try {
            pollUntilClosed(welcome);
        } finally {
            if (closed.get()) {
                unmapRings();
            }
        }
    }

    private void pollUntilClosed(CompletableFuture<Object[]> welcome) {
        Decoders decoders = new Decoders();
        long lastBeat = 0;
        while (running) {
            int n = replies.ring().read((type, buffer, index, length) -> onReply(decoders, welcome, type, buffer, index, length),
                    64);
            long now = System.currentTimeMillis();
            if (now - lastBeat >= Protocol.HEARTBEAT_MILLIS) {
                replies.ring().consumerHeartbeatTime(now);
                lastBeat = now;
                checkServer(now);
            }
            if (n == 0) {
                LockSupport.parkNanos(200_000);
            }
        }
    }

    /** A server that stopped stamping its ring, or was replaced by another, fails every open request. */
    private void checkServer(long now) {
        if (lost != null) {
            return;
        }
        long beat = requests.ring().consumerHeartbeatTime();
        String why = null;
        if (now - beat > timeoutMillis) {
            why = "the moed server stopped responding (no heartbeat for " + (now - beat) + " ms)";
        } else if (serverInstance != 0) {
            Properties p = dir.readInfo();
            String inst = p.getProperty("instance");
            if (inst == null || !inst.equals(Long.toString(serverInstance))) {
                // (compared as text: a half-written or garbled info file during a restart is "another server" too,
                // not a NumberFormatException that would end the poller with requests open)
                why = "the moed server went away or was restarted";
            }
        }
        if (why != null) {
            lost = why;
            failAll("server_lost", why);
        }
    }

    /** Fails every open request (each one only if nothing else ended it first). */
    private void failAll(String code, String message) {
        for (Request r : open.values()) {
            open.remove(r.id);
            r.fail(code, message);
        }
    }

    private void onReply(Decoders d, CompletableFuture<Object[]> welcome, int type, MutableDirectBuffer b, int index,
                         int length) {
        try {
            switch (type) {
                case Protocol.WELCOME -> {
                    WelcomeCodec w = d.welcome.wrapForDecode(b, index, length);
                    welcome.complete(new Object[] {w.instance(), w.model()});
                }
                case Protocol.TOKEN -> {
                    TokenCodec t = d.token.wrapForDecode(b, index, length);
                    Request r = open.get(t.requestId());
                    int tok = t.tokenId();
                    String piece = t.piece();
                    if (r != null) {
                        r.listener.onToken(tok, piece);
                    }
                }
                case Protocol.DONE -> {
                    DoneCodec m = d.done.wrapForDecode(b, index, length);
                    Done done = new Done(m.reason(), m.promptTokens(), m.generatedTokens(), m.prefillNanos(), m.decodeNanos());
                    Request r = open.remove(m.requestId());
                    if (r != null) {
                        r.finish(done);
                    }
                }
                case Protocol.ERROR -> {
                    ErrorCodec m = d.error.wrapForDecode(b, index, length);
                    long id = m.requestId();
                    String code = m.code();
                    String msg = m.message();
                    Request r = open.remove(id);
                    if (r != null) {
                        r.fail(code, msg);
                    } else {
                        CompletableFuture<String> f = statusWaiters.remove(id);
                        if (f != null) {
                            f.completeExceptionally(new ServerError(code, msg));
                        } else if (!welcome.isDone()) {
                            welcome.completeExceptionally(new ServerError(code, msg));
                        }
                    }
                }
                case Protocol.STATUS -> {
                    StatusCodec m = d.status.wrapForDecode(b, index, length);
                    CompletableFuture<String> f = statusWaiters.remove(m.requestId());
                    String json = m.json();
                    if (f != null) {
                        f.complete(json);
                    }
                }
                default -> {
                    // a reply kind from a newer server: ignored
                }
            }
        } catch (MalformedMessageException e) {
            // a garbled reply cannot be attributed safely; the request will end by its DONE or the timeout
        } catch (RuntimeException e) {
            // a listener's exception must not stop the poller
        }
    }

    /** Says goodbye (the server cancels what is still running), stops the poller and removes the reply ring. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        try {
            if (lost == null) {
                Encoders out = encoders.get();
                send(out.headerOnly.wrapForEncode(out.buffer, 0, Protocol.BYE, clientId, 0));
            }
        } catch (RuntimeException e) {
            // the server is gone already
        }
        running = false;
        if (Thread.currentThread() != poller) {
            try {
                poller.join(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        failAll("closed", "the client was closed");
        // A poller still inside a listener (close called from one, or one slower than the join) reads the rings
        // once more: it unmaps them on its way out instead.
        if (!poller.isAlive()) {
            unmapRings();
        }
        try {
            Files.deleteIfExists(replies.file());
        } catch (IOException e) {
            // best effort
        }
    }
}
