package moed.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import moed.tools.cli.MoedCli;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CLI end to end on the embedded model and on files it makes itself: what a user types, what they see. Every
 * command that opens a model says where its statistics go (--no-stats, or --state-dir under the test's folder).
 */
@ExtendWith(DefaultStateDirGuard.class)
class CliEndToEndTest {
    static final Path MODEL = Paths.get(System.getProperty("moed.repo.dir", "../.."), "models", "moed-tinymoe-16x4-q8_0.gguf");
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    record Result(int code, String out, String err) {
    }

    static synchronized Result moed(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = MoedCli.execute(args);
            return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void modelInfoAgreesWithTheModelsReadme() throws Exception {
        Result r = moed("model", "info", MODEL.toString(), "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = JSON.readTree(r.out());
        // models/README.md: 8 layers, width 256, 8/4 heads, 16 experts top-4 of hidden 128, vocabulary 2048,
        // 83 tensors, 15.2 M parameters, all 128 experts 12.8 MiB in Q8_0.
        assertEquals(83, j.get("tensor_count").asInt());
        assertEquals(8, j.get("model").get("layers").asInt());
        assertEquals(256, j.get("model").get("dim").asInt());
        assertEquals(4, j.get("model").get("kv_heads").asInt());
        assertEquals(16, j.get("model").get("experts").asInt());
        assertEquals(4, j.get("model").get("experts_used").asInt());
        assertEquals(128, j.get("model").get("feed_forward").asInt());
        assertEquals(2048, j.get("model").get("vocab").asInt());
        assertEquals(15_241_472L, j.get("parameters").asLong());
        assertEquals(8L * 16 * 3 * 128 * 272, j.get("expert_bytes").asLong());
        // Every layer's experts alike: one run of layers, each expert 3 x 128 rows of 272 bytes (8.5 bits per weight).
        JsonNode layers = j.get("expert_layers");
        assertEquals(1, layers.size(), layers.toString());
        assertEquals(7, layers.get(0).get("last_layer").asInt());
        assertEquals(3 * 128 * 272, layers.get(0).get("bytes_per_expert").asLong());
        assertEquals(8.5, layers.get(0).get("bits_per_weight").asDouble());
        Result text = moed("model", "info", MODEL.toString());
        assertTrue(text.out().contains("experts: 16 per layer, top-4, expert hidden size 128"), text.out());
        assertTrue(text.out().contains("  layers 0-7: Q8_0 gate/up/down, 8.50 bpw, 102.00 KiB per expert"), text.out());
    }

    @Test
    void runPrintsJsonWithIdsTextAndTimings() throws Exception {
        Result r = moed("run", "-m", MODEL.toString(), "-p", "The old king looked at the sea and said", "-n", "12",
                "-t", "2", "--output", "json", "--no-stats");
        assertEquals(0, r.code(), r.err());
        JsonNode j = JSON.readTree(r.out());
        assertEquals(1, j.get("prompt_ids").get(0).asInt());
        assertEquals(12, j.get("generated_ids").size());
        // The reference engine's greedy continuation (../shared/reference) begins ", and the bighest of".
        assertTrue(j.get("text").asText().startsWith(", and the bighest of"), j.get("text").asText());
        assertTrue(j.get("decode_tokens_per_s").asDouble() > 0);
    }

    @Test
    void greedyOutputIsTheSameWithOneAndTwoThreads() throws Exception {
        String[] base = {"run", "-m", MODEL.toString(), "-p", "Once upon a time there was a little girl who", "-n", "32", "--output", "json", "--no-stats"};
        JsonNode one = JSON.readTree(moed(concat(base, "-t", "1")).out());
        JsonNode two = JSON.readTree(moed(concat(base, "-t", "2", "-b", "3")).out());
        assertEquals(one.get("generated_ids"), two.get("generated_ids"));
    }

    @Test
    void synthInflateInfoAndBenchWorkTogether() throws Exception {
        Path synth = dir.resolve("synth.gguf");
        Result s = moed("model", "synth", "--out", synth.toString(), "--layers", "2", "--dim", "128", "--heads", "4",
                "--kv-heads", "2", "--experts", "4", "--top-k", "2", "--expert-ff", "64", "--vocab", "320", "--seed", "3");
        assertEquals(0, s.code(), s.err());
        Path big = dir.resolve("big.gguf");
        Result inf = moed("model", "inflate", synth.toString(), big.toString(), "--expert-ff", "128");
        assertEquals(0, inf.code(), inf.err());
        JsonNode a = JSON.readTree(moed("run", "-m", synth.toString(), "-p", "the cat", "-n", "8", "--output", "json", "--no-stats").out());
        JsonNode b = JSON.readTree(moed("run", "-m", big.toString(), "-p", "the cat", "-n", "8", "--output", "json", "--no-stats").out());
        assertEquals(a.get("generated_ids"), b.get("generated_ids"), "inflation keeps the tokens");
        Result bench = moed("bench", "-m", big.toString(), "-p", "8", "-n", "4", "-r", "1", "--json", "--no-stats", "--warmup-s", "2");
        assertEquals(0, bench.code(), bench.err());
        assertTrue(JSON.readTree(bench.out()).get("decode_tokens_per_s").asDouble() > 0);
        assertTrue(JSON.readTree(bench.out()).get("warmup_rounds").asInt() >= 1, "warmed up before timing");
    }

    @Test
    void runAndBenchReportTheSameCacheFigures() throws Exception {
        Path state = dir.resolve("state");
        Result run = moed("run", "-m", MODEL.toString(), "-p", "The old king looked at the sea and said", "-n", "12",
                "--cache-mb", "3", "--state-dir", state.toString(), "--output", "json");
        assertEquals(0, run.code(), run.err());
        Result bench = moed("bench", "-m", MODEL.toString(), "-p", "8", "-n", "4", "-r", "1", "--warmup-s", "0", "--cache-mb", "3",
                "--state-dir", state.toString(), "--json");
        assertEquals(0, bench.code(), bench.err());
        JsonNode r = JSON.readTree(run.out()).get("cache");
        JsonNode b = JSON.readTree(bench.out()).get("cache");
        assertTrue(r != null && r.isObject(), "run --output json has the cache's figures: " + run.out());
        java.util.Set<String> runKeys = new java.util.TreeSet<>();
        r.fieldNames().forEachRemaining(runKeys::add);
        java.util.Set<String> benchKeys = new java.util.TreeSet<>();
        b.fieldNames().forEachRemaining(benchKeys::add);
        // bench adds what only it measures: its decode accesses replayed through LRU and Belady's optimum, and what
        // its timed prompts read.
        benchKeys.removeIf(k -> k.startsWith("replay_") || k.startsWith("prefill_"));
        assertEquals(benchKeys, runKeys);
        for (String k : new String[] {"decode_hit_rate", "decode_stall_ms_per_token", "decode_mb_read_per_token"}) {
            assertTrue(runKeys.contains(k), k);
        }
        double hit = r.get("decode_hit_rate").asDouble();
        assertTrue(hit > 0 && hit <= 1, r.toString());
        assertTrue(r.get("decode_mb_read_per_token").asDouble() > 0, "3 MiB hold 40 of 128 experts: decode reads some: " + r);
        assertTrue(Files.list(state).findAny().isPresent(), "statistics went to --state-dir");
    }

    /** {@code moed submit --chat --system}: the server formats the conversation as {@code moed run --chat} does. */
    @Test
    void submitChatAnswersAsRunChatDoes() throws Exception {
        Path chat = dir.resolve("chat.gguf"); // qwen3moe: a ChatML vocabulary and chat template (the tiny model has none)
        Result s = moed("model", "synth", "--out", chat.toString(), "--arch", "qwen3moe", "--layers", "2", "--dim", "128",
                "--heads", "4", "--kv-heads", "2", "--experts", "4", "--top-k", "2", "--expert-ff", "64", "--vocab", "400",
                "--context", "512", "--seed", "5");
        assertEquals(0, s.code(), s.err());
        String[] turns = {"--chat", "--system", "You answer in one line ✓", "-n", "6"};
        Result run = moed(concat(new String[] {"run", "-m", chat.toString(), "-p", "Where is the sea?", "--output", "json",
                "--no-stats"}, turns));
        assertEquals(0, run.code(), run.err());
        Path ipc = dir.resolve("ipc");
        try (moed.runtime.Engine e = moed.runtime.Engine.open(chat, 1, 512, 16);
             moed.tools.ipc.MoedServer server = new moed.tools.ipc.MoedServer(e, new moed.tools.ipc.IpcDirectory(ipc), 2,
                     1500, System.err)) {
            Result submit = moed(concat(new String[] {"submit", "--ipc-dir", ipc.toString()}, concat(turns, "Where is the sea?")));
            assertEquals(0, submit.code(), submit.err());
            String answer = JSON.readTree(run.out()).get("text").asText();
            assertTrue(answer.strip().length() >= 3, "a reply to compare: '" + answer + "'");
            assertEquals(answer + System.lineSeparator(), submit.out());
            Result plain = moed("submit", "--ipc-dir", ipc.toString(), "--system", "You answer in one line", "hi");
            assertEquals(1, plain.code());
            assertEquals("moed: --system needs --chat" + System.lineSeparator(), plain.err());
        }
    }

    @Test
    void badInputGetsOneClearLine() throws Exception {
        Path junk = dir.resolve("junk.gguf");
        Files.writeString(junk, "not a model");
        Result r = moed("model", "info", junk.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().startsWith("moed: " + junk + " at byte 0: not a GGUF file"), r.err());
        r = moed("run", "-m", MODEL.toString(), "-p", "", "--no-stats");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("the prompt is empty"), r.err());
        r = moed("run", "-m", MODEL.toString(), "-p", "word ".repeat(50), "-c", "32", "--no-stats");
        assertTrue(r.err().contains("shorten the prompt or raise the context length [-c/--ctx-size]"), r.err());
        r = moed("run", "-m", MODEL.toString(), "-p", "hi", "--top-p", "2", "--no-stats");
        assertTrue(r.err().contains("top-p must be in (0, 1]"), r.err());
        r = moed("model", "synth", "--out", dir.resolve("x.gguf").toString(), "--type", "Q9_9");
        assertTrue(r.err().contains("unknown tensor type 'Q9_9'"), r.err());
    }

    @Test
    void everyCommandHasHelp() {
        for (String[] c : new String[][] {{"--help"}, {"model", "--help"}, {"model", "info", "--help"}, {"model", "synth", "--help"},
                {"model", "inflate", "--help"}, {"model", "tokenizer", "--help"}, {"run", "--help"}, {"bench", "--help"}, {"bench", "kernels", "--help"}, {"analyze", "--help"}, {"serve", "--help"},
                {"submit", "--help"}, {"status", "--help"}, {"perplexity", "--help"}, {"bench", "batch", "--help"}, {"stats", "show", "--help"}, {"bench", "predictor", "--help"}}) {
            Result r = moed(c);
            assertEquals(0, r.code(), String.join(" ", c));
            assertTrue(r.out().startsWith("Usage: moed"), String.join(" ", c) + ": " + r.out());
        }
    }

    @Test
    void aRecordedRunIsAnalyzed() throws Exception {
        Path jfr = dir.resolve("run.jfr");
        Path html = dir.resolve("report.html");
        Result run = moed("run", "-m", MODEL.toString(), "-p", "The old king looked at the sea and said", "-n", "16",
                "--cache-mb", "3", "--predictor", "gate", "--no-stats", "--output", "json", "--jfr", jfr.toString());
        assertEquals(0, run.code(), run.err());
        int prompt = JSON.readTree(run.out()).get("prompt_ids").size();
        Result r = moed("analyze", jfr.toString(), "--json", "--html", html.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode j = JSON.readTree(r.out());
        JsonNode s = j.get("summary");
        assertEquals("moed-tinymoe-16x4-q8_0.gguf", s.get("model").asText());
        assertEquals(prompt, s.get("promptTokens").asInt());
        assertEquals(15, s.get("decodeTokens").asInt(), "the 16th token is sampled but never run through the model");
        assertEquals("gate", s.get("predictor").asText());
        assertTrue(s.get("accesses").asLong() >= 15 * 8 * 4, s.toString());
        assertTrue(s.get("prefetchesIssued").asLong() > 0, s.toString());
        assertEquals(8, j.get("layers").size());
        // Every token routed at every layer: heat sums to (prompt + 15) tokens x 4 experts per layer.
        for (JsonNode layer : j.get("heat")) {
            int sum = 0;
            for (JsonNode v : layer) {
                sum += v.asInt();
            }
            assertEquals((prompt + 15) * 4, sum);
        }
        assertTrue(j.get("predictor").size() > 0);
        JsonNode curves = j.get("curves");
        JsonNode all = curves.get("points").get(curves.get("points").size() - 1);
        assertEquals(128, all.get("entries").asInt());
        double compulsory = 1 - curves.get("distinctExperts").asDouble() / curves.get("traceLength").asDouble();
        assertEquals(compulsory, all.get("lru").asDouble(), 1e-9);
        assertEquals(compulsory, all.get("belady").asDouble(), 1e-9);
        assertTrue(j.get("recommendation").get("cacheGib").asDouble() > 0);
        assertTrue(Files.readString(html).contains("Miss-ratio curves"));

        Path junk = dir.resolve("junk.jfr");
        Files.writeString(junk, "not a recording");
        Result bad = moed("analyze", junk.toString());
        assertEquals(1, bad.code());
        assertTrue(bad.err().startsWith("moed: " + junk + " is not a readable JFR recording"), bad.err());
    }

    @Test
    void perplexityWithKlAgainstASavedBase() throws Exception {
        Path text = dir.resolve("t.txt");
        Files.writeString(text, "The old king looked at the sea and said that the ship would come back in the spring. ".repeat(20));
        Path base = dir.resolve("base.logits");
        Result a = moed("perplexity", "-m", MODEL.toString(), "-f", text.toString(), "-c", "32", "--chunks", "3",
                "--save-logits", base.toString(), "--json", "--no-stats");
        assertEquals(0, a.code(), a.err());
        double ppl = JSON.readTree(a.out()).get("ppl").asDouble();
        assertTrue(ppl > 1 && ppl < 2048, a.out());
        Result b = moed("perplexity", "-m", MODEL.toString(), "-f", text.toString(), "-c", "32", "--chunks", "3",
                "--kl-base", base.toString(), "-ser", "2,1", "--json", "--no-stats");
        assertEquals(0, b.code(), b.err());
        JsonNode j = JSON.readTree(b.out());
        assertEquals(ppl, j.get("base_ppl").asDouble(), 0.01 * ppl);
        assertTrue(j.get("kl_mean").asDouble() > 0);
        Result bad = moed("perplexity", "-m", MODEL.toString(), "-f", text.toString(), "-c", "4096", "--no-stats");
        assertEquals(1, bad.code());
        assertTrue(bad.err().contains("needs at least"), bad.err());
    }

    static String[] concat(String[] a, String... b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

}
