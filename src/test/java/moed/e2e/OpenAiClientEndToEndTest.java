package moed.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import moed.runtime.Engine;
import moed.runtime.chat.ChatTemplate;
import moed.runtime.sampling.SamplerConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code moed serve --http} as its own process, used by real clients: the official {@code openai} package for Node
 * (installed with npm under target/; skipped with a message where Node, npm or the registry is missing) streaming a
 * chat completion, and {@code curl -N} reading the server-sent events. Both must give the engine's solo greedy text.
 */
class OpenAiClientEndToEndTest {
    static final Path NODE_DIR = Path.of("target", "node-openai").toAbsolutePath();
    static final String OPENAI_PACKAGE = "openai@7";
    static final ObjectMapper JSON = new ObjectMapper();
    static final List<ChatTemplate.Message> TURNS = List.of(new ChatTemplate.Message("system", "You tell stories."),
            new ChatTemplate.Message("user", "Tell me about the old king"));

    static Path tmp;
    static Process server;
    static Path log;
    static String base;
    static String expected;

    @BeforeAll
    static void startServer() throws Exception {
        tmp = Files.createTempDirectory("moed-openai");
        log = tmp.resolve("serve.log");
        server = ChildJvm.builder(List.of(), moed.tools.cli.MoedCli.class.getName(), "serve", "-m", CliEndToEndTest.MODEL.toString(),
                "--http", "127.0.0.1:0", "--chat-template", "chatml", "--state-dir", tmp.resolve("state").toString(),
                "--ipc-dir", tmp.resolve("ipc").toString(), "--no-jfr", "-t", "1")
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        Pattern at = Pattern.compile("HTTP API on (http://\\S+)/v1");
        long deadline = System.currentTimeMillis() + 90_000;
        while (true) {
            String out = Files.readString(log);
            Matcher m = at.matcher(out);
            if (m.find() && out.contains("moed serve: serving")) {
                base = m.group(1);
                break;
            }
            assertTrue(server.isAlive() && System.currentTimeMillis() < deadline, "serve did not come up:\n" + out);
            Thread.sleep(20);
        }
        try (Engine e = Engine.open(CliEndToEndTest.MODEL, 1, 2048, 64)) {
            e.useChatTemplate(ChatTemplate.of("chatml", e.tokenizer().vocabulary()));
            expected = e.generate(e.encodeChat(TURNS), 12, SamplerConfig.GREEDY, null).text();
        }
    }

    @AfterAll
    static void stopServer() throws Exception {
        if (server != null) {
            server.destroy();
            assertTrue(server.waitFor(30, TimeUnit.SECONDS));
            assertEquals(0, server.exitValue(), Files.readString(log));
        }
    }

    @Test
    void theOfficialNodeClientStreamsAChatCompletion() throws Exception {
        Assumptions.assumeTrue(installOpenAi(), "skipped: npm could not install " + OPENAI_PACKAGE + " (no Node, npm or registry here)");
        Path script = NODE_DIR.resolve("chat.mjs");
        Files.writeString(script, """
                import OpenAI from 'openai';
                const client = new OpenAI({ baseURL: process.argv[2] + '/v1', apiKey: 'unused' });
                const stream = await client.chat.completions.create({
                  model: 'moed', stream: true, stream_options: { include_usage: true }, max_tokens: 12, temperature: 0,
                  messages: [{ role: 'system', content: 'You tell stories.' }, { role: 'user', content: 'Tell me about the old king' }],
                });
                let text = '', usage = null, finish = null;
                for await (const chunk of stream) {
                  if (chunk.usage) usage = chunk.usage;
                  const c = chunk.choices[0];
                  if (c) { text += c.delta?.content ?? ''; if (c.finish_reason) finish = c.finish_reason; }
                }
                let refused = null;
                try {
                  await client.chat.completions.create({ model: 'moed', messages: [{ role: 'wizard', content: 'x' }] });
                } catch (e) {
                  refused = { status: e.status, message: e.message, param: e.param ?? e.error?.param ?? null };
                }
                const models = await client.models.list();
                console.log(JSON.stringify({ text, usage, finish, refused, model: models.data[0].id }));
                """);
        Process node = new ProcessBuilder("node", script.toString(), base).directory(NODE_DIR.toFile()).redirectErrorStream(true).start();
        String out = new String(node.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(node.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, node.exitValue(), out);
        JsonNode j = JSON.readTree(out.lines().reduce((a, b) -> b).orElse("{}"));
        assertEquals(expected, j.get("text").asText());
        assertEquals("length", j.get("finish").asText());
        assertEquals(12, j.get("usage").get("completion_tokens").asInt());
        assertEquals(400, j.get("refused").get("status").asInt(), out);
        assertTrue(j.get("refused").get("message").asText().contains("wizard"), out);
        assertEquals(CliEndToEndTest.MODEL.getFileName().toString(), j.get("model").asText());
    }

    @Test
    void curlReadsTheEventStream() throws Exception {
        Assumptions.assumeTrue(NodePackages.have("curl"), "skipped: no curl here");
        String body = JSON.writeValueAsString(java.util.Map.of("messages", List.of(
                java.util.Map.of("role", "system", "content", "You tell stories."),
                java.util.Map.of("role", "user", "content", "Tell me about the old king")), "max_tokens", 12, "temperature", 0, "stream", true));
        Process curl = new ProcessBuilder("curl", "-sSN", "--fail-with-body", base + "/v1/chat/completions", "-H",
                "Content-Type: application/json", "-d", body).redirectErrorStream(true).start();
        String out = new String(curl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(curl.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, curl.exitValue(), out);
        StringBuilder text = new StringBuilder();
        List<String> events = out.lines().filter(l -> !l.isEmpty()).toList();
        assertEquals("data: [DONE]", events.getLast(), out);
        for (String e : events.subList(0, events.size() - 1)) {
            assertTrue(e.startsWith("data: {"), e);
            text.append(JSON.readTree(e.substring(6)).get("choices").get(0).path("delta").path("content").asText(""));
        }
        assertEquals(expected, text.toString());
    }

    /** npm-installs the client under target/ once; false when that cannot be done here. */
    static boolean installOpenAi() throws IOException, InterruptedException {
        return NodePackages.install(NODE_DIR, "openai", List.of(), OPENAI_PACKAGE);
    }
}
