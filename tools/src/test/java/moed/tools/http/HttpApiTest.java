package moed.tools.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import moed.runtime.Engine;
import moed.runtime.StopReason;
import moed.runtime.chat.ChatTemplate;
import moed.runtime.sampling.SamplerConfig;
import moed.tools.serve.Daemon;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The OpenAI-compatible API over loopback with the JDK's HTTP client, on the tiny model: completions equal to the
 * engine's solo greedy runs, whole and streamed; every kind of bad request answered with its status and OpenAI's
 * error shape while the server goes on serving; a client that leaves mid-stream cancelling its sequence; 32
 * streaming clients at once; a full queue refused with 429; metrics that parse and move.
 */
class HttpApiTest {
    static final Path MODEL = Path.of(System.getProperty("moed.repo.dir", ".."), "models", "moed-tinymoe-16x4-q8_0.gguf");
    static final ObjectMapper JSON = new ObjectMapper();
    static final String[] PROMPTS = {"The old king looked at the sea and said", "Once upon a time there was a little girl who",
            "The ship sailed", "In the morning the children", "She opened the door and"};
    static final PrintStream QUIET = new PrintStream(OutputStream.nullOutputStream());

    static Engine engine;
    static Daemon daemon;
    static HttpApi api;
    static HttpClient client;

    @BeforeAll
    static void start() throws Exception {
        engine = Engine.open(MODEL, 1, 256, 16);
        engine.useChatTemplate(ChatTemplate.of("chatml", engine.tokenizer().vocabulary()));
        daemon = new Daemon(engine, 4, 40);
        api = HttpApi.start(new InetSocketAddress("127.0.0.1", 0), "tiny.gguf", null, System.err);
        api.serve(daemon);
        client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    }

    @AfterAll
    static void stop() {
        if (api != null) {
            api.close();
        }
        if (engine != null) {
            engine.close();
        }
    }

    static URI uri(HttpApi a, String path) {
        return URI.create("http://127.0.0.1:" + a.address().getPort() + path);
    }

    static HttpResponse<String> post(HttpApi a, String path, String body) throws Exception {
        return client.send(HttpRequest.newBuilder(uri(a, path)).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> get(HttpApi a, String path) throws Exception {
        return client.send(HttpRequest.newBuilder(uri(a, path)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    static String solo(String prompt, int n) {
        return engine.generate(prompt, n, SamplerConfig.GREEDY, null).text();
    }

    static String soloChat(List<ChatTemplate.Message> turns, int n) {
        return engine.generate(engine.encodeChat(turns), n, SamplerConfig.GREEDY, null).text();
    }

    static String completionBody(String prompt, int n, boolean stream) throws Exception {
        return JSON.writeValueAsString(java.util.Map.of("prompt", prompt, "max_tokens", n, "temperature", 0, "stream", stream,
                "stream_options", java.util.Map.of("include_usage", true)));
    }

    /** The text of a streamed reply, checking the event framing on the way; the usage chunk's completion tokens too. */
    record Streamed(String text, String finishReason, int completionTokens, int events) {
    }

    static Streamed readStream(InputStream in, boolean chat) throws Exception {
        BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
        StringBuilder text = new StringBuilder();
        String finish = null;
        int usage = -1;
        int events = 0;
        boolean done = false;
        String line;
        while ((line = r.readLine()) != null) {
            if (line.isEmpty()) {
                continue;
            }
            assertTrue(line.startsWith("data: "), line);
            assertFalse(done, "an event after [DONE]");
            String data = line.substring(6);
            if (data.equals("[DONE]")) {
                done = true;
                continue;
            }
            events++;
            JsonNode c = JSON.readTree(data);
            assertFalse(c.has("error"), data);
            assertEquals(chat ? "chat.completion.chunk" : "text_completion", c.get("object").asText());
            if (c.hasNonNull("usage")) {
                usage = c.get("usage").get("completion_tokens").asInt();
                assertTrue(c.get("choices").isEmpty());
                continue;
            }
            JsonNode choice = c.get("choices").get(0);
            text.append(chat ? choice.path("delta").path("content").asText("") : choice.get("text").asText());
            if (!choice.get("finish_reason").isNull()) {
                finish = choice.get("finish_reason").asText();
            }
        }
        assertTrue(done, "the stream ends with data: [DONE]");
        return new Streamed(text.toString(), finish, usage, events);
    }

    @Test
    void completionsWholeAndStreamedEqualSoloGreedyRuns() throws Exception {
        HttpResponse<String> r = post(api, "/v1/completions", completionBody(PROMPTS[0], 12, false));
        assertEquals(200, r.statusCode(), r.body());
        JsonNode j = JSON.readTree(r.body());
        assertEquals("text_completion", j.get("object").asText());
        assertEquals("tiny.gguf", j.get("model").asText());
        assertEquals(solo(PROMPTS[0], 12), j.get("choices").get(0).get("text").asText());
        assertEquals("length", j.get("choices").get(0).get("finish_reason").asText());
        assertEquals(12, j.get("usage").get("completion_tokens").asInt());
        assertEquals(engine.encodePrompt(PROMPTS[0]).length, j.get("usage").get("prompt_tokens").asInt());

        HttpResponse<InputStream> s = client.send(HttpRequest.newBuilder(uri(api, "/v1/completions"))
                .POST(HttpRequest.BodyPublishers.ofString(completionBody(PROMPTS[1], 12, true))).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, s.statusCode());
        assertTrue(s.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"));
        Streamed st = readStream(s.body(), false);
        assertEquals(solo(PROMPTS[1], 12), st.text());
        assertEquals("length", st.finishReason());
        assertEquals(12, st.completionTokens());
    }

    @Test
    void chatCompletionsFormatTheConversationWithTheTemplate() throws Exception {
        List<ChatTemplate.Message> turns = List.of(new ChatTemplate.Message("system", "You tell stories."),
                new ChatTemplate.Message("user", "Tell me about the sea"));
        String body = """
                {"model": "anything", "messages": [{"role": "system", "content": "You tell stories."},
                 {"role": "user", "content": [{"type": "text", "text": "Tell me about "}, {"type": "text", "text": "the sea"}]}],
                 "max_completion_tokens": 10, "temperature": 0, "seed": 7, "top_p": 1, "n": 1, "user": "ignored"}""";
        HttpResponse<String> r = post(api, "/v1/chat/completions", body);
        assertEquals(200, r.statusCode(), r.body());
        JsonNode j = JSON.readTree(r.body());
        assertEquals("chat.completion", j.get("object").asText());
        JsonNode m = j.get("choices").get(0).get("message");
        assertEquals("assistant", m.get("role").asText());
        assertEquals(soloChat(turns, 10), m.get("content").asText());
        assertEquals(engine.encodeChat(turns).length, j.get("usage").get("prompt_tokens").asInt());

        HttpResponse<InputStream> s = client.send(HttpRequest.newBuilder(uri(api, "/v1/chat/completions"))
                .POST(HttpRequest.BodyPublishers.ofString(body.replace("\"n\": 1", "\"stream\": true"))).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        Streamed st = readStream(s.body(), true);
        assertEquals(soloChat(turns, 10), st.text());
        assertEquals(-1, st.completionTokens(), "no usage chunk unless stream_options.include_usage");
    }

    @Test
    void stopStringsEndTheTextBeforeThem() throws Exception {
        String full = solo(PROMPTS[2], 16);
        String stop = full.substring(full.length() / 2, full.length() / 2 + 3);
        HttpResponse<String> r = post(api, "/v1/completions", JSON.writeValueAsString(java.util.Map.of("prompt", PROMPTS[2],
                "max_tokens", 16, "temperature", 0, "stop", List.of(stop))));
        JsonNode c = JSON.readTree(r.body()).get("choices").get(0);
        assertEquals(full.substring(0, full.indexOf(stop)), c.get("text").asText());
        assertEquals("stop", c.get("finish_reason").asText());
    }

    /** Each bad request: its status, the field named (or null) and a word of the message; the server serves on. */
    @Test
    void badRequestsGetTheirStatusAndAnOpenAiErrorAndTheServerServesOn() throws Exception {
        record Bad(String path, String body, int status, String param, String says) {
        }
        String tooLong = "word ".repeat(400);
        List<Bad> cases = List.of(
                new Bad("/v1/chat/completions", "{\"messages\": [", 400, null, "not valid JSON"),
                new Bad("/v1/chat/completions", "[1, 2]", 400, null, "JSON object"),
                new Bad("/v1/chat/completions", "", 400, null, "empty"),
                new Bad("/v1/chat/completions", "{}", 400, "messages", "required"),
                new Bad("/v1/chat/completions", "{\"messages\": \"hi\"}", 400, "messages", "a string"),
                new Bad("/v1/chat/completions", "{\"messages\": []}", 400, "messages", "empty"),
                new Bad("/v1/chat/completions", "{\"messages\": [{\"role\": \"wizard\", \"content\": \"x\"}]}", 400, "messages[0].role", "wizard"),
                new Bad("/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"\"}]}", 400, "messages[0].content", "empty"),
                new Bad("/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": 5}]}", 400, "messages[0].content", "a number"),
                new Bad("/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\"}]}]}", 400,
                        "messages[0].content[0]", "text"),
                new Bad("/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"n\": 2}", 400, "n", "1"),
                new Bad("/v1/completions", "{\"prompt\": \"x\", \"temperature\": \"hot\"}", 400, "temperature", "a number"),
                new Bad("/v1/completions", "{\"prompt\": \"x\", \"temperature\": 2.5}", 400, "temperature", "[0, 2]"),
                new Bad("/v1/completions", "{\"prompt\": \"x\", \"top_p\": 0}", 400, "top_p", "(0, 1]"),
                new Bad("/v1/completions", "{\"prompt\": \"x\", \"top_k\": -1}", 400, "top_k", "whole number"),
                new Bad("/v1/completions", "{\"prompt\": \"x\", \"min_p\": 1}", 400, "min_p", "[0, 1)"),
                new Bad("/v1/completions", "{\"prompt\": \"x\", \"max_tokens\": 0}", 400, "max_tokens", ">= 1"),
                new Bad("/v1/completions", "{\"prompt\": \"x\", \"max_tokens\": 2.5}", 400, "max_tokens", "whole number"),
                new Bad("/v1/completions", "{\"prompt\": \"x\", \"stop\": [\"a\", \"\"]}", 400, "stop", "empty"),
                new Bad("/v1/completions", "{\"prompt\": \"x\", \"stop\": [\"a\", \"b\", \"c\", \"d\", \"e\"]}", 400, "stop", "at most 4"),
                new Bad("/v1/completions", "{\"prompt\": \"x\", \"stream\": \"yes\"}", 400, "stream", "true or false"),
                new Bad("/v1/completions", "{\"prompt\": 42}", 400, "prompt", "a string"),
                new Bad("/v1/completions", "{\"prompt\": \"" + tooLong + "\"}", 400, null, "context"),
                new Bad("/v1/completions", "{\"prompt\": \"" + tooLong + "\", \"stream\": true}", 400, null, "context"),
                new Bad("/v1/nothing", "{}", 404, null, "no such path"));
        for (Bad b : cases) {
            HttpResponse<String> r = post(api, b.path(), b.body());
            assertEquals(b.status(), r.statusCode(), b + " -> " + r.body());
            JsonNode e = JSON.readTree(r.body()).get("error");
            assertNotNull(e, r.body());
            assertTrue(e.get("message").asText().contains(b.says()), b + " -> " + r.body());
            assertEquals(b.param(), e.get("param").isNull() ? null : e.get("param").asText(), r.body());
            assertTrue(e.has("type") && e.has("code"), r.body());
        }
        HttpResponse<String> wrongMethod = get(api, "/v1/chat/completions");
        assertEquals(405, wrongMethod.statusCode());
        assertEquals("POST", wrongMethod.headers().firstValue("Allow").orElse(""));
        assertEquals(405, post(api, "/health", "{}").statusCode());
        // A body over the limit is refused from its declared length (and dropped, so the client sees the status).
        byte[] big = new byte[HttpApi.MAX_BODY_BYTES + 1];
        java.util.Arrays.fill(big, (byte) ' ');
        HttpResponse<String> r413 = client.send(HttpRequest.newBuilder(uri(api, "/v1/completions"))
                .POST(HttpRequest.BodyPublishers.ofByteArray(big)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(413, r413.statusCode());
        assertEquals(solo(PROMPTS[3], 6), JSON.readTree(post(api, "/v1/completions", completionBody(PROMPTS[3], 6, false)).body())
                .get("choices").get(0).get("text").asText());
    }

    @Test
    void aClientThatLeavesMidStreamCancelsItsSequence() throws Exception {
        long cancelledBefore = daemon.scheduler().status().outcome(StopReason.CANCELLED);
        long generatedBefore = daemon.scheduler().status().tokensGenerated();
        String body = completionBody(PROMPTS[4], 200, true);
        int events = 0;
        try (Socket s = new Socket("127.0.0.1", api.address().getPort())) {
            OutputStream out = s.getOutputStream();
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: "
                    + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
            out.flush();
            BufferedReader r = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            String line;
            while (events < 3 && (line = r.readLine()) != null) {
                if (line.contains("data: {")) {
                    events++;
                }
            }
        } // closed with unread data: the server's next write fails
        assertEquals(3, events);
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (daemon.scheduler().status().outcome(StopReason.CANCELLED) == cancelledBefore && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals(cancelledBefore + 1, daemon.scheduler().status().outcome(StopReason.CANCELLED));
        long generated = daemon.scheduler().status().tokensGenerated() - generatedBefore;
        // Three events read, a few more in flight in socket buffers, then one failing write and one step before the
        // cancel is applied: far from the 200 asked for.
        assertTrue(generated < 40, "the sequence ran on for " + generated + " tokens after its client left");
    }

    @Test
    void thirtyTwoStreamingClientsAtOnceEachGetTheirSoloText() throws Exception {
        int clients = 32;
        int n = 8;
        String[] expected = new String[PROMPTS.length];
        for (int i = 0; i < PROMPTS.length; i++) {
            expected[i] = solo(PROMPTS[i], n);
        }
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<Streamed>> got = new ArrayList<>();
            for (int i = 0; i < clients; i++) {
                String body = completionBody(PROMPTS[i % PROMPTS.length], n, true);
                got.add(pool.submit(() -> readStream(client.send(HttpRequest.newBuilder(uri(api, "/v1/completions"))
                        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofInputStream()).body(), false)));
            }
            for (int i = 0; i < clients; i++) {
                Streamed s = got.get(i).get(120, TimeUnit.SECONDS);
                assertEquals(expected[i % PROMPTS.length], s.text(), "client " + i);
                assertEquals(n, s.completionTokens(), "client " + i);
            }
        }
    }

    @Test
    void aFullQueueIsRefusedWith429AndRetryAfter() throws Exception {
        try (Daemon small = new Daemon(engine, 1, 1);
             HttpApi a = HttpApi.start(new InetSocketAddress("127.0.0.1", 0), "tiny.gguf", null, QUIET)) {
            a.serve(small);
            try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                // One runs, one waits: both streams are open before the third request comes.
                List<Future<Streamed>> running = new ArrayList<>();
                for (int i = 0; i < 2; i++) {
                    String body = completionBody(PROMPTS[i], 60, true);
                    running.add(pool.submit(() -> readStream(client.send(HttpRequest.newBuilder(uri(a, "/v1/completions"))
                            .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofInputStream()).body(), false)));
                }
                long deadline = System.nanoTime() + 30_000_000_000L;
                while (small.scheduler().status().active() + small.scheduler().status().queued() < 2 && System.nanoTime() < deadline) {
                    Thread.sleep(2);
                }
                HttpResponse<String> r = post(a, "/v1/completions", completionBody(PROMPTS[2], 4, false));
                assertEquals(429, r.statusCode(), r.body());
                assertEquals("1", r.headers().firstValue("Retry-After").orElse(""));
                assertTrue(JSON.readTree(r.body()).get("error").get("message").asText().contains("busy"));
                for (Future<Streamed> f : running) {
                    assertEquals(60, f.get(120, TimeUnit.SECONDS).completionTokens());
                }
            }
            assertEquals(1, small.scheduler().status().refusedFull());
        }
    }

    @Test
    void healthSaysLoadingThenWarmingThenOkAndCompletionsWaitForIt() throws Exception {
        try (HttpApi a = HttpApi.start(new InetSocketAddress("127.0.0.1", 0), "tiny.gguf", null, QUIET)) {
            HttpResponse<String> h = get(a, "/health");
            assertEquals(503, h.statusCode());
            assertEquals("loading", JSON.readTree(h.body()).get("status").asText());
            HttpResponse<String> c = post(a, "/v1/completions", completionBody("x", 1, false));
            assertEquals(503, c.statusCode());
            assertTrue(c.headers().firstValue("Retry-After").isPresent());
            a.warming();
            assertEquals("warming", JSON.readTree(get(a, "/health").body()).get("status").asText());
            assertEquals(200, get(a, "/v1/models").statusCode());
            try (Daemon d = new Daemon(engine, 1, 4)) {
                a.serve(d);
                assertEquals(200, get(a, "/health").statusCode());
                assertEquals("tiny.gguf", JSON.readTree(get(a, "/v1/models").body()).get("data").get(0).get("id").asText());
            } // closing the daemon closes its front ends, this API among them
        }
    }

    @Test
    void anApiKeyGuardsTheV1Routes() throws Exception {
        try (Daemon d = new Daemon(engine, 1, 4);
             HttpApi a = HttpApi.start(new InetSocketAddress("127.0.0.1", 0), "tiny.gguf", "s3cret", QUIET)) {
            a.serve(d);
            assertEquals(401, get(a, "/v1/models").statusCode());
            HttpResponse<String> wrong = client.send(HttpRequest.newBuilder(uri(a, "/v1/models")).header("Authorization", "Bearer nope")
                    .GET().build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(401, wrong.statusCode());
            assertEquals("invalid_api_key", JSON.readTree(wrong.body()).get("error").get("code").asText());
            HttpResponse<String> right = client.send(HttpRequest.newBuilder(uri(a, "/v1/models")).header("Authorization", "Bearer s3cret")
                    .GET().build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, right.statusCode());
            assertEquals(200, get(a, "/health").statusCode(), "health stays open for orchestrators");
        }
    }

    @Test
    void metricsParseAsPrometheusTextAndMoveAsTokensAreServed() throws Exception {
        PrometheusText before = PrometheusText.parse(get(api, "/metrics").body());
        assertEquals("counter", before.types.get("moed_generated_tokens_total"));
        assertEquals("gauge", before.types.get("moed_queued_requests"));
        HttpResponse<String> r = post(api, "/v1/completions", completionBody(PROMPTS[1], 7, false));
        assertEquals(200, r.statusCode());
        HttpResponse<String> m = get(api, "/metrics");
        assertTrue(m.headers().firstValue("Content-Type").orElse("").startsWith("text/plain; version=0.0.4"));
        // An exchange is counted once it is closed, which can be just after the client has read the answer.
        for (int i = 0; i < 100 && !m.body().contains("code=\"200\",route=\"/v1/completions\""); i++) {
            Thread.sleep(20);
            m = get(api, "/metrics");
        }
        PrometheusText after = PrometheusText.parse(m.body());
        assertTrue(after.value("moed_generated_tokens_total") >= before.value("moed_generated_tokens_total") + 7);
        assertTrue(after.value("moed_requests_total{outcome=\"length\"}") >= before.value("moed_requests_total{outcome=\"length\"}") + 1);
        assertTrue(after.value("moed_prompt_tokens_total") >= before.value("moed_prompt_tokens_total") + engine.encodePrompt(PROMPTS[1]).length);
        assertTrue(after.value("moed_http_requests_total{code=\"200\",route=\"/v1/completions\"}") >= 1);
        for (String k : List.of("moed_active_sequences", "moed_decode_tokens_per_second", "moed_requests_refused_total")) {
            after.value(k);
        }
    }
}
