package moed.tools.ipc;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import moed.cache.CacheCounters;
import moed.runtime.Engine;
import moed.runtime.StopReason;
import moed.runtime.sampling.SamplerConfig;
import moed.runtime.serve.BatchScheduler;
import moed.tools.serve.Daemon;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;

/**
 * The daemon's IPC side: one thread reads the request ring and talks to clients; the scheduler's compute thread
 * runs the batched forward passes and writes tokens straight into the clients' reply rings (they are many-to-one
 * rings, so both threads may write). A malformed message costs its sender an error reply, never the server.
 */
public final class MoedServer implements AutoCloseable, Daemon.FrontEnd {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Daemon daemon;
    private final Engine engine;
    private final BatchScheduler scheduler;
    private final IpcDirectory dir;
    private final IpcDirectory.ServerLock lock;
    private final IpcDirectory.MappedRing requests;
    private final long instanceId = ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE;
    private final long timeoutMillis;
    private final PrintStream log;
    private final Map<Long, Client> clients = new ConcurrentHashMap<>();
    private final AtomicLong malformed = new AtomicLong();
    private final Thread ipcThread;
    private final CountDownLatch stopped = new CountDownLatch(1);
    private volatile boolean running = true;
    /** Set by close(): the IPC thread stops passing SUBMITs to the scheduler and says when it has. */
    private volatile boolean closing;
    private final CountDownLatch refusing = new CountDownLatch(1);
    /** IPC thread (then the closing thread): new SUBMITs are answered "shutdown" instead of started. */
    private boolean refuseSubmits;
    private final AtomicBoolean released = new AtomicBoolean();

    /** One connected client: its reply ring and its requests in flight (client request id -> scheduler id). */
    private final class Client {
        final long id;
        final IpcDirectory.MappedRing ring;
        final ClientRequests requests = new ClientRequests(scheduler::cancel);
        final Map<Long, PendingPrompt> pending = new HashMap<>(); // IPC thread only
        final Replies computeReplies = new Replies(); // written on the compute thread
        final Replies ipcReplies = new Replies(); // written on the IPC thread
        final long connectedMillis = System.currentTimeMillis();

        Client(long id, IpcDirectory.MappedRing ring) {
            this.id = id;
            this.ring = ring;
        }
    }

    /** The reply codecs of one thread, over its own scratch buffer (no allocation once it has grown). */
    private static final class Replies {
        final ExpandableArrayBuffer buffer = new ExpandableArrayBuffer(256);
        final WelcomeCodec welcome = new WelcomeCodec();
        final TokenCodec token = new TokenCodec();
        final DoneCodec done = new DoneCodec();
        final ErrorCodec error = new ErrorCodec();
        final StatusCodec status = new StatusCodec();
    }

    /** The request codecs of the IPC thread, and its replies to senders that are not clients. */
    private static final class Requests {
        final HeaderOnlyCodec header = new HeaderOnlyCodec();
        final HelloCodec hello = new HelloCodec();
        final SubmitCodec submit = new SubmitCodec();
        final Replies strangers = new Replies();
    }

    /** A prompt arriving in chunks; one whose last chunk does not come within the client timeout is answered with an error. */
    private static final class PendingPrompt {
        final BatchScheduler.Params params;
        final short format;
        final byte[][] chunks;
        final long firstChunkMillis = System.currentTimeMillis();
        int received;
        long bytes;

        PendingPrompt(BatchScheduler.Params params, short format, int count) {
            this.params = params;
            this.format = format;
            this.chunks = new byte[count][];
        }

        /** The chunks put back together: the text, or the conversation, the client sent. */
        BatchScheduler.Prompt prompt() {
            byte[] all = new byte[(int) bytes];
            int at = 0;
            for (byte[] b : chunks) {
                System.arraycopy(b, 0, all, at, b.length);
                at += b.length;
            }
            return format == SubmitCodec.CONVERSATION ? new BatchScheduler.Prompt.Chat(ConversationCodec.decode(all))
                    : new BatchScheduler.Prompt.Text(new String(all, StandardCharsets.UTF_8));
        }
    }

    /** A server that is the only front end of its own daemon (no bound on queued requests). */
    public MoedServer(Engine engine, IpcDirectory dir, int maxSequences, long timeoutMillis, PrintStream log) throws IOException {
        this(new Daemon(engine, maxSequences, Integer.MAX_VALUE), dir, timeoutMillis, log, true);
    }

    /** A front end of {@code daemon}, beside any others; closing it closes the daemon. */
    public MoedServer(Daemon daemon, IpcDirectory dir, long timeoutMillis, PrintStream log) throws IOException {
        this(daemon, dir, timeoutMillis, log, false);
    }

    private MoedServer(Daemon daemon, IpcDirectory dir, long timeoutMillis, PrintStream log, boolean ownDaemon) throws IOException {
        this.daemon = daemon;
        this.engine = daemon.engine();
        this.dir = dir;
        this.timeoutMillis = timeoutMillis;
        this.log = log;
        this.scheduler = daemon.scheduler();
        IpcDirectory.ServerLock lock;
        try {
            lock = dir.lockForServer();
        } catch (IOException | RuntimeException e) {
            if (ownDaemon) {
                daemon.close();
            }
            throw e;
        }
        this.lock = lock;
        try {
            this.requests = dir.createRing(dir.requestRing(), Protocol.REQUEST_RING_BYTES);
            requests.ring().consumerHeartbeatTime(System.currentTimeMillis());
            dir.writeInfo(instanceId, engine.file().path().getFileName().toString());
        } catch (IOException | RuntimeException e) {
            lock.close();
            if (ownDaemon) {
                daemon.close();
            }
            throw e;
        }
        ipcThread = new Thread(this::ipcLoop, "moed-ipc");
        ipcThread.start();
        daemon.attach(this);
    }

    public Daemon daemon() {
        return daemon;
    }

    public BatchScheduler scheduler() {
        return scheduler;
    }

    public long instanceId() {
        return instanceId;
    }

    public int clientCount() {
        return clients.size();
    }

    public long malformedMessages() {
        return malformed.get();
    }

    private void ipcLoop() {
        ManyToOneRingBuffer ring = requests.ring();
        Requests codecs = new Requests();
        long lastBeat = 0;
        long lastCheck = System.nanoTime();
        var cacheBefore = engine.cache() != null ? engine.cache().counters() : null;
        while (running) {
            if (closing && !refuseSubmits) {
                startRefusing();
            }
            int n = ring.read((type, buffer, index, length) -> onMessage(codecs, type, buffer, index, length), 64);
            long now = System.currentTimeMillis();
            if (now - lastBeat >= Protocol.HEARTBEAT_MILLIS) {
                ring.consumerHeartbeatTime(now);
                lastBeat = now;
                dropSilentClients(now);
                expireIncompletePrompts(now);
            }
            // Every 10 s: is the cache thrashing? (The engine limits the warning to one a minute.)
            if (cacheBefore != null && System.nanoTime() - lastCheck > 10_000_000_000L) {
                var after = engine.cache().counters();
                String warning = engine.thrashWarning(cacheBefore, after, System.nanoTime() - lastCheck);
                if (warning != null) {
                    log.println("moed serve: warning: " + warning);
                }
                cacheBefore = after;
                lastCheck = System.nanoTime();
            }
            if (n == 0) {
                LockSupport.parkNanos(200_000);
            }
        }
    }

    private void onMessage(Requests codecs, int type, MutableDirectBuffer buffer, int index, int length) {
        // The header first, whatever the type: a message refused later can still be answered to its sender.
        HeaderOnlyCodec r = codecs.header;
        try {
            r.wrapForDecode(type, buffer, index, length);
            switch (type) {
                case Protocol.HELLO -> hello(codecs.hello.wrapForDecode(buffer, index, length));
                case Protocol.SUBMIT -> submit(codecs.submit.wrapForDecode(buffer, index, length));
                case Protocol.CANCEL -> cancel(r.clientId(), r.requestId());
                case Protocol.BYE -> drop(r.clientId(), null);
                case Protocol.STATUS_REQUEST -> status(r);
                default -> throw new MalformedMessageException("unknown message type " + type);
            }
        } catch (MalformedMessageException | IllegalArgumentException e) {
            malformed.incrementAndGet();
            Client c = clients.get(r.clientId());
            if (c != null) {
                sendError(c, c.ipcReplies, r.requestId(), "bad_message", Protocol.typeName(type) + ": " + e.getMessage());
            } else if (type == Protocol.HELLO && e instanceof UnsupportedVersionException v) {
                refuseHello(codecs.strangers, r.clientId(), v.version());
            } else {
                log.println("moed serve: ignored a malformed message from an unknown client: " + e.getMessage());
            }
        } catch (RuntimeException e) {
            // A bug must not take the daemon down: report it to the sender and go on. The log names the exception's
            // class only: its message may quote the client's text, which stays out of the server's log.
            malformed.incrementAndGet();
            log.println("moed serve: error handling a " + Protocol.typeName(type) + " message from client "
                    + Long.toHexString(r.clientId()) + " (request " + r.requestId() + "): " + e.getClass().getName());
            Client c = clients.get(r.clientId());
            if (c != null) {
                sendError(c, c.ipcReplies, r.requestId(), "internal", e.toString());
            }
        }
    }

    private void hello(HelloCodec r) {
        int pid = r.pid();
        long id = r.clientId();
        if (clients.containsKey(id)) {
            throw new MalformedMessageException("client id " + Long.toHexString(id) + " is already connected");
        }
        IpcDirectory.MappedRing ring;
        try {
            ring = IpcDirectory.openRing(dir.clientRing(id));
        } catch (IOException e) {
            log.println("moed serve: client " + Long.toHexString(id) + " (pid " + pid + ") said hello without a usable reply ring: "
                    + e.getMessage());
            return;
        }
        Client c = new Client(id, ring);
        clients.put(id, c);
        Replies out = c.ipcReplies;
        write(c, out.welcome.wrapForEncode(out.buffer, 0, id).instance(instanceId)
                .model(engine.file().path().getFileName().toString()));
    }

    /**
     * A HELLO in another protocol version: its sender cannot be served, and unanswered it would wait out its hello
     * timeout and then blame the server's silence. It is answered with an ERROR in its own version's header, which
     * it can read: the header and ERROR's layout are the same in every version. A version-1 client shows that error
     * only as the cause of "did not answer hello within 5000 ms" (its constructor wraps whatever ends the hello;
     * {@code moed --debug submit} prints the cause), but at once rather than after the timeout; later clients show
     * the server's message itself.
     */
    private void refuseHello(Replies out, long clientId, short version) {
        log.println("moed serve: refused client " + Long.toHexString(clientId) + ": it speaks protocol version " + version
                + ", this server " + Protocol.VERSION);
        try (IpcDirectory.MappedRing ring = IpcDirectory.openRing(dir.clientRing(clientId))) {
            // One try, no waiting: the ring is new and empty, and nobody else writes it.
            out.error.wrapForEncode(out.buffer, 0, clientId, 0, version).code("unsupported_version")
                    .message("protocol version " + version + " is not supported by this server (speaks " + Protocol.VERSION
                            + "): " + (version < Protocol.VERSION ? "upgrade the client" : "upgrade the server"))
                    .writeTo(ring.ring());
        } catch (IOException | RuntimeException e) {
            // (Called from onMessage's handler of malformed messages: nothing may escape to end the IPC thread.)
            log.println("moed serve: could not answer client " + Long.toHexString(clientId) + ": " + e);
        }
    }

    private Client known(MessageCodec r) {
        Client c = clients.get(r.clientId());
        if (c == null) {
            throw new MalformedMessageException("client " + Long.toHexString(r.clientId()) + " has not said hello");
        }
        return c;
    }

    private void submit(SubmitCodec r) {
        Client c = known(r);
        long req = r.requestId();
        int maxTokens = r.maxTokens();
        float temp = r.temperature();
        int topK = r.topK();
        float topP = r.topP();
        float minP = r.minP();
        float repeat = r.repeatPenalty();
        long seed = r.seed();
        int chunk = r.chunkIndex();
        int count = r.chunkCount();
        int stopCount = r.stopCount();
        short format = r.promptFormat();
        if (count < 1 || chunk < 0 || chunk >= count) {
            throw new MalformedMessageException("chunk " + chunk + " of " + count);
        }
        if (format != SubmitCodec.TEXT && format != SubmitCodec.CONVERSATION) {
            throw new MalformedMessageException("prompt format " + format + " (0: text, 1: conversation)");
        }
        if (stopCount < 0 || stopCount > 16) {
            throw new MalformedMessageException("stop count " + stopCount + " (at most 16)");
        }
        List<String> stops = new ArrayList<>();
        for (int i = 0; i < stopCount; i++) {
            String s = r.nextStop();
            if (s.isEmpty()) {
                throw new MalformedMessageException("an empty stop string");
            }
            stops.add(s);
        }
        byte[] text = r.promptChunk();
        if (refuseSubmits) {
            if (chunk == 0) {
                sendError(c, c.ipcReplies, req, "shutdown", "the server is shutting down; request " + req + " was not started");
            }
            return;
        }
        PendingPrompt p = c.pending.get(req);
        if (chunk == 0) {
            if (p != null || c.requests.contains(req)) {
                throw new MalformedMessageException("request id " + req + " is already in use");
            }
            if (c.pending.size() >= Protocol.MAX_PROMPTS_ARRIVING) {
                throw new MalformedMessageException("more than " + Protocol.MAX_PROMPTS_ARRIVING
                        + " prompts of this client are arriving in chunks at once");
            }
            // Parameters are checked here, so a bad value is answered at once with its name.
            BatchScheduler.Params params = new BatchScheduler.Params(maxTokens,
                    new SamplerConfig(temp, topK, topP, minP, repeat, 64, seed), stops);
            p = new PendingPrompt(params, format, count);
            c.pending.put(req, p);
        } else if (p == null || p.chunks.length != count || p.chunks[chunk] != null || p.format != format) {
            c.pending.remove(req);
            throw new MalformedMessageException("prompt chunk " + chunk + " of " + count + " does not fit request " + req);
        }
        p.chunks[chunk] = text;
        p.received++;
        p.bytes += text.length;
        if (p.bytes > Protocol.MAX_PROMPT_BYTES) {
            c.pending.remove(req);
            throw new MalformedMessageException("the prompt exceeds " + Protocol.MAX_PROMPT_BYTES + " bytes");
        }
        if (p.received < count) {
            return;
        }
        c.pending.remove(req);
        BatchScheduler.Prompt prompt = p.prompt(); // a conversation that does not decode is refused here, naming why
        if (!c.requests.reserve(req)) {
            return; // the client died meanwhile: nobody to answer
        }
        long sid;
        try {
            sid = scheduler.submit(prompt, p.params, new ReplyStream(c, req));
        } catch (BatchScheduler.QueueFullException e) {
            c.requests.finished(req);
            sendError(c, c.ipcReplies, req, "busy", e.getMessage());
            return;
        }
        c.requests.started(req, sid);
    }

    private void cancel(long clientId, long req) {
        Client c = clients.get(clientId);
        if (c == null) {
            return;
        }
        if (c.pending.remove(req) != null) {
            // Cancelled before its last chunk came: it never started.
            Replies out = c.ipcReplies;
            write(c, out.done.wrapForEncode(out.buffer, 0, c.id, req).reason(StopReason.CANCELLED.toString()).counts(0, 0, 0, 0));
            return;
        }
        c.requests.cancel(req);
    }

    /** IPC thread: a prompt whose later chunks did not come within the client timeout is dropped with an error. */
    private void expireIncompletePrompts(long now) {
        for (Client c : clients.values()) {
            for (var it = c.pending.entrySet().iterator(); it.hasNext(); ) {
                var e = it.next();
                PendingPrompt p = e.getValue();
                if (now - p.firstChunkMillis > timeoutMillis) {
                    it.remove();
                    sendError(c, c.ipcReplies, e.getKey(), "incomplete_prompt", "only " + p.received + " of " + p.chunks.length
                            + " chunks of the prompt arrived within " + timeoutMillis + " ms");
                }
            }
        }
    }

    /** IPC thread, once close() has begun: from now on no SUBMIT reaches the scheduler; half-arrived prompts are answered. */
    private void startRefusing() {
        refuseSubmits = true;
        for (Client c : clients.values()) {
            for (long req : c.pending.keySet()) {
                sendError(c, c.ipcReplies, req, "shutdown", "the server is shutting down; request " + req + " was not started");
            }
            c.pending.clear();
        }
        refusing.countDown();
    }

    private void status(HeaderOnlyCodec r) {
        Client c = known(r);
        Replies out = c.ipcReplies;
        write(c, out.status.wrapForEncode(out.buffer, 0, c.id, r.requestId()).json(statusJson()));
    }

    /** The status as JSON; Jackson escapes the model's file name, whatever characters it has. */
    String statusJson() {
        BatchScheduler.Status s = scheduler.status();
        var cache = engine.cache();
        ObjectNode j = JSON.createObjectNode();
        j.put("model", engine.file().path().getFileName().toString());
        j.put("instance", instanceId);
        j.put("uptime_s", Math.round(daemon.uptimeSeconds() * 10) / 10.0);
        j.put("clients", clients.size());
        j.put("active_sequences", s.active());
        j.put("queued", s.queued());
        j.put("requests_done", s.requestsDone());
        j.put("tokens_generated", s.tokensGenerated());
        j.put("decode_tokens_per_s", Math.round(s.decodeTokensPerSecond() * 100) / 100.0);
        j.put("malformed_messages", malformed.get());
        j.put("cache_resident_bytes", cache == null ? 0 : cache.residentBytes());
        j.put("cache_budget_bytes", cache == null ? 0 : cache.budgetBytes());
        if (cache == null) {
            j.putNull("cache_hit_rate");
        } else {
            CacheCounters k = cache.counters();
            j.put("cache_hit_rate", round4(k.hitRate()));
            j.put("cache_prefetch_in_time_rate", round4(k.prefetchHitRate()));
            j.put("cache_prefetch_late_rate", round4(k.prefetchLateRate()));
            j.put("cache_demand_rate", round4(k.missRate()));
        }
        return j.toString();
    }

    private static double round4(double v) {
        return Math.round(v * 10_000) / 10_000.0;
    }

    /** Sends a request's results to its client, on the compute thread. */
    private final class ReplyStream implements BatchScheduler.Stream {
        private final Client c;
        private final long req;

        ReplyStream(Client c, long req) {
            this.c = c;
            this.req = req;
        }

        @Override
        public void token(int id, String piece) {
            Replies out = c.computeReplies;
            write(c, out.token.wrapForEncode(out.buffer, 0, c.id, req).tokenId(id).piece(piece));
        }

        @Override
        public void done(StopReason reason, int promptTokens, int generatedTokens, long prefillNanos, long decodeNanos) {
            c.requests.finished(req);
            Replies out = c.computeReplies;
            write(c, out.done.wrapForEncode(out.buffer, 0, c.id, req).reason(reason.toString())
                    .counts(promptTokens, generatedTokens, prefillNanos, decodeNanos));
        }

        @Override
        public void error(String code, String message) {
            c.requests.finished(req);
            sendError(c, c.computeReplies, req, code, message);
        }
    }

    private void sendError(Client c, Replies out, long req, String code, String message) {
        write(c, out.error.wrapForEncode(out.buffer, 0, c.id, req).code(code).message(message));
    }

    /**
     * Writes into a client's ring; a client that does not drain its ring for the timeout is dropped (its requests
     * are cancelled) rather than allowed to stall everyone else.
     */
    private void write(Client c, MessageCodec message) {
        if (c.requests.isClosed()) {
            return;
        }
        long deadline = 0;
        while (!message.writeTo(c.ring.ring())) {
            long now = System.currentTimeMillis();
            if (deadline == 0) {
                deadline = now + timeoutMillis;
            } else if (now > deadline || c.requests.isClosed() || !running) {
                markDead(c, "its reply ring stayed full");
                return;
            }
            LockSupport.parkNanos(100_000);
        }
    }

    private void dropSilentClients(long now) {
        for (Client c : clients.values()) {
            long beat = c.ring.ring().consumerHeartbeatTime();
            long last = Math.max(beat, c.connectedMillis);
            if (now - last > timeoutMillis) {
                drop(c.id, "no heartbeat for " + (now - last) + " ms");
            }
        }
    }

    /** Either thread: the client's requests are cancelled and its drop logged, once. */
    private void markDead(Client c, String why) {
        if (c.requests.close() && why != null) {
            log.println("moed serve: dropping client " + Long.toHexString(c.id) + ": " + why);
        }
    }

    /** Forgets a client (IPC thread): its requests are cancelled and its ring unmapped once the compute side lets go. */
    private void drop(long clientId, String why) {
        Client c = clients.remove(clientId);
        if (c == null) {
            return;
        }
        markDead(c, why);
        // The compute thread may be writing a token to this ring right now; unmapping is left to the GC of the
        // mapping (IoUtil.unmap here could race), so a dropped client costs at most one mapped ring until then.
        // Its file goes now: a client that died without saying goodbye never removes it, and unlinking does not
        // disturb the mapping.
        try {
            Files.deleteIfExists(c.ring.file());
        } catch (IOException e) {
            log.println("moed serve: could not remove " + c.ring.file() + ": " + e.getMessage());
        }
    }

    /** Blocks until the server has stopped. */
    public void awaitStop() throws InterruptedException {
        stopped.await();
    }

    /**
     * Graceful stop of the daemon this server belongs to (and so of its other front ends): no new work; every request
     * the server has read gets a reply (requests in flight an error saying the server is going away, SUBMITs read from
     * now on a "shutdown" error); the IPC files are removed and the lock released. The engine (statistics, recording)
     * is closed by its owner. See {@link Daemon} for the order.
     */
    @Override
    public void close() {
        daemon.close();
    }

    /** The IPC thread stops passing SUBMITs on (and answers half-arrived prompts); returns once it has. */
    @Override
    public void stopAccepting() {
        closing = true;
        boolean interrupted = false;
        while (ipcThread.isAlive()) {
            try {
                if (refusing.await(100, TimeUnit.MILLISECONDS)) {
                    break;
                }
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** After the compute thread stopped: the IPC thread ends, messages left in the ring are answered, files go. */
    @Override
    public void release() {
        if (!released.compareAndSet(false, true)) {
            return;
        }
        running = false;
        boolean interrupted = Daemon.join(ipcThread);
        // Messages the IPC thread left in the ring: answered here, as it would have.
        refuseSubmits = true;
        Requests codecs = new Requests();
        while (requests.ring().read((type, buffer, index, length) -> onMessage(codecs, type, buffer, index, length)) > 0) {
            // drained
        }
        requests.close();
        for (Client c : clients.values()) {
            c.ring.close(); // both threads have stopped: nobody writes to these rings any more
        }
        clients.clear();
        dir.removeServerFiles();
        try {
            lock.close();
        } catch (IOException e) {
            // the process is going away anyway
        }
        stopped.countDown();
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
