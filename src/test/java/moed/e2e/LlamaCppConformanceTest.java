package moed.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import moed.runtime.Engine;
import moed.runtime.StepPhase;
import moed.runtime.model.InferenceState;
import moed.runtime.sampling.SamplerConfig;
import moed.tools.cli.MoedCli;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * moed against mainline llama.cpp, the second implementation of every architecture: files moed synthesizes with
 * the shape ratios of the real models (scaled down) run in llama.cpp through the npm package node-llama-cpp and its
 * prebuilt CPU library (installed by this test under target/; skipped with a message where Node, npm or the
 * registry is missing). For each file and prompt: the same prompt tokens; the same greedy continuation, or one that
 * parts at a near-tie (moed's two candidates within {@link #NEAR_TIE} of the top probability, relatively); and, with moed's
 * continuation fed to both (teacher forcing), every position's log-probability of the next token within
 * {@link #PROBABILITY_TOLERANCE} ({@link #LOW_BIT_TOLERANCE} for the low-bit fixture files).
 */
class LlamaCppConformanceTest {
    static final String NODE_LLAMA_CPP = "node-llama-cpp@3.22.1";
    static final Path NODE_DIR = Path.of("target", "node-llama-cpp").toAbsolutePath();
    static final ObjectMapper JSON = new ObjectMapper();
    static final List<String> PROMPTS = List.of("The old king looked at the sea and said",
            "Once upon a time there was a little girl who", "The ship sailed to the north, and the men");
    static final int TOKENS = 16;
    /**
     * In log-probability (nats) of the fed token, so that a flat distribution (random synthetic weights give many)
     * is held as tightly as a peaked one. F16 weights: llama.cpp rounds activations to F16 for the mat-muls, moed
     * keeps them in F32. Measured worst: 0.006 nats, 0.019 for gpt-oss (AVX-512 machine); llama.cpp picks its CPU
     * build by the machine, so the bound leaves room.
     */
    static final double PROBABILITY_TOLERANCE = 0.05;
    /**
     * The low-bit fixtures: their activations are quantized to Q8_K in both engines (ggml's reference rounding in
     * both), so a last-bit difference upstream (summation order) can move an activation a whole rounding step, which
     * 2-bit weights carry further than F16 ones. Measured worst: 0.042 nats (AMD, AVX-512).
     */
    static final double LOW_BIT_TOLERANCE = 0.1;
    static final double NEAR_TIE = 0.02;

    /**
     * A file per architecture, shaped as the real model is (its ratios of heads, KV heads, head size, experts, FFN),
     * synthesized by moed; or, with a {@code fixture}, a file of the test resources' low-bit/ (made by llama.cpp's
     * quantizer, in formats moed does not write).
     */
    record Arch(String name, String fixture, String... synth) {
        static Arch synth(String name, String... synth) {
            return new Arch(name, null, synth);
        }

        double tolerance() {
            return fixture == null ? PROBABILITY_TOLERANCE : LOW_BIT_TOLERANCE;
        }

        static Arch fixture(String name, String resource) {
            return new Arch(name, resource, new String[0]);
        }

        Arch {
            // F16 weights and 4 layers unless an architecture says otherwise.
            List<String> a = new ArrayList<>(List.of(synth));
            if (fixture == null && !a.contains("--type")) {
                a.addAll(List.of("--type", "F16"));
            }
            if (fixture == null && !a.contains("--layers")) {
                a.addAll(List.of("--layers", "4"));
            }
            synth = a.toArray(String[]::new);
        }
    }

    static final List<Arch> ARCHS = List.of(
            // Mixtral 8x7B: 32 heads / 8 KV heads of 128, 8 experts top-2, FFN 3.5 x dim.
            Arch.synth("llama", "--arch", "llama", "--dim", "256", "--heads", "8", "--kv-heads", "2", "--experts", "8",
                    "--top-k", "2", "--expert-ff", "896"),
            // Qwen3-30B-A3B: 32 heads / 4 KV heads of 128 (2 x dim), 128 experts top-8, expert FFN 0.375 x dim.
            Arch.synth("qwen3moe", "--arch", "qwen3moe", "--dim", "256", "--heads", "8", "--kv-heads", "1", "--head-dim", "64",
                    "--experts", "32", "--top-k", "8", "--expert-ff", "96"),
            // Qwen1.5-MoE-A2.7B: 16 heads = KV heads, 60 experts top-4, expert FFN 0.69 x dim, shared expert 4 x that.
            Arch.synth("qwen2moe", "--arch", "qwen2moe", "--dim", "256", "--heads", "4", "--kv-heads", "4", "--experts", "16",
                    "--top-k", "4", "--expert-ff", "176", "--shared-ff", "704"),
            // OLMoE-1B-7B: 16 heads = KV heads, 64 experts top-8, expert FFN 0.5 x dim.
            Arch.synth("olmoe", "--arch", "olmoe", "--dim", "256", "--heads", "4", "--kv-heads", "4", "--experts", "32",
                    "--top-k", "4", "--expert-ff", "128"),
            // gpt-oss-20b: 64 heads / 8 KV heads of 64, 32 experts top-4, expert FFN = dim, alternating 128-token window.
            Arch.synth("gpt-oss", "--arch", "gpt-oss", "--dim", "256", "--heads", "8", "--kv-heads", "1", "--head-dim", "64",
                    "--experts", "16", "--top-k", "4", "--expert-ff", "256", "--sliding-window", "8"),
            // DeepSeek-V3: 128 heads of 192 (128 + 64 rotary), query and latent ranks, sigmoid routing in expert groups,
            // a shared expert, a leading dense layer. F32: mainline's AMX build (Sapphire Rapids) aborts on the F16
            // latent up-projection (GGML_ASSERT(*cur_backend_id != -1)), a mainline bug.
            Arch.synth("deepseek2-v3", "--arch", "deepseek2", "--dim", "256", "--heads", "8", "--head-dim", "96", "--rope-dim", "32",
                    "--q-lora-rank", "96", "--kv-lora-rank", "64", "--experts", "16", "--top-k", "4", "--expert-ff", "64",
                    "--routing", "v3", "--convention", "mainline", "--type", "F32"),
            // DeepSeek-V2-Lite: a direct query, softmax routing. 27 layers: mainline reads the query's rank as optional
            // only for 26- or 27-layer files (its test for "Lite").
            Arch.synth("deepseek2-lite", "--arch", "deepseek2", "--dim", "256", "--heads", "4", "--head-dim", "96", "--rope-dim", "32",
                    "--q-lora-rank", "0", "--kv-lora-rank", "64", "--experts", "8", "--top-k", "2", "--expert-ff", "64",
                    "--routing", "v2", "--convention", "mainline", "--type", "F32", "--layers", "27"),
            // A Qwen3-MoE file in the layout of the shared "dynamic" quantizations: IQ2_XXS/IQ2_S experts in one
            // layer, IQ1_S/IQ2_XS in the next, Q4_K-Q6_K attention, Q8_0 embeddings; and one with the other low-bit
            // formats (IQ1_M, IQ3_XXS, IQ3_S, IQ4_XS, Q2_K, Q3_K). See resources/low-bit/README.md.
            Arch.fixture("qwen3moe-iq-dynamic", "dynamic.gguf"),
            Arch.fixture("qwen3moe-low-bit-mixed", "mixed.gguf"));

    @TempDir
    Path tmp;

    @Test
    void everyArchitectureAgreesWithMainlineLlamaCpp() throws Exception {
        Assumptions.assumeTrue(installNodeLlamaCpp(), "skipped: npm could not install " + NODE_LLAMA_CPP
                + " (no Node, npm or registry here)");
        List<Map<String, Object>> jobs = new ArrayList<>();
        List<List<int[]>> moedGreedy = new ArrayList<>();
        for (Arch a : ARCHS) {
            Path file = tmp.resolve(a.name() + ".gguf");
            if (a.fixture() != null) {
                LowBitKnownAnswerTest.copy(a.fixture(), file);
            } else {
                List<String> args = new ArrayList<>(List.of("model", "synth", "--out", file.toString(), "--vocab", "2048"));
                args.addAll(List.of(a.synth()));
                assertEquals(0, MoedCli.execute(args.toArray(String[]::new)), a.name() + ": synth");
            }
            List<int[]> greedy = new ArrayList<>();
            List<List<Integer>> forced = new ArrayList<>();
            try (Engine e = Engine.open(file, 2, 512, 64)) {
                for (String p : PROMPTS) {
                    int[] g = e.generate(e.encodePrompt(p), TOKENS, SamplerConfig.GREEDY, null).generatedIds();
                    if (g.length > 0 && e.tokenizer().vocabulary().isEndOfGeneration(g[g.length - 1])) {
                        g = Arrays.copyOf(g, g.length - 1); // node-llama-cpp ends on such a token without yielding it
                    }
                    greedy.add(g);
                    forced.add(Arrays.stream(g).boxed().toList());
                }
            }
            moedGreedy.add(greedy);
            jobs.add(Map.of("model", file.toString(), "prompts", PROMPTS, "tokens", TOKENS, "forced", forced));
        }
        JsonNode out = runLlamaCpp(jobs);
        System.out.println("mainline llama.cpp: " + out.get("llamaCpp"));
        System.out.println("architecture | prompt | prompt tokens equal | greedy tokens equal | worst |ln p moed - ln p llama.cpp| (teacher forced) | mean p");
        List<String> failures = new ArrayList<>();
        for (int ai = 0; ai < ARCHS.size(); ai++) {
            Arch a = ARCHS.get(ai);
            JsonNode r = out.get("results").get(ai);
            if (r.has("error")) {
                failures.add(a.name() + ": llama.cpp failed: " + r.get("error").asText());
                continue;
            }
            try (Engine e = Engine.open(tmp.resolve(a.name() + ".gguf"), 2, 512, 64)) {
                for (int pi = 0; pi < PROMPTS.size(); pi++) {
                    JsonNode lp = r.get("prompts").get(pi);
                    int[] ids = e.encodePrompt(PROMPTS.get(pi));
                    int[] theirIds = ints(lp.get("ids"));
                    int[] mine = moedGreedy.get(ai).get(pi);
                    int[] theirs = ints(lp.get("greedy"));
                    float[][] probs = forcedProbabilities(e, ids, mine);
                    double worst = 0;
                    double meanP = 0;
                    for (int i = 0; i < lp.get("forced").size(); i++) {
                        double theirP = lp.get("forced").get(i).get("p").asDouble();
                        worst = Math.max(worst, Math.abs(Math.log(probs[i][mine[i]]) - Math.log(theirP)));
                        meanP += probs[i][mine[i]] / mine.length;
                    }
                    String greedyVerdict = greedyVerdict(mine, theirs, probs);
                    System.out.printf("%s | %d | %s | %s | %.4f | %.3f%n", a.name(), pi, Arrays.equals(ids, theirIds), greedyVerdict, worst, meanP);
                    if (!Arrays.equals(ids, theirIds)) {
                        failures.add(a.name() + " prompt " + pi + ": tokens " + Arrays.toString(ids) + " vs llama.cpp " + Arrays.toString(theirIds));
                    }
                    if (greedyVerdict.startsWith("no")) {
                        failures.add(a.name() + " prompt " + pi + ": " + greedyVerdict + "; moed " + Arrays.toString(mine)
                                + " llama.cpp " + Arrays.toString(theirs));
                    }
                    if (worst > a.tolerance()) {
                        failures.add(a.name() + " prompt " + pi + ": log-probabilities differ by " + worst);
                    }
                }
            }
        }
        if (!failures.isEmpty()) {
            fail(String.join("\n", failures));
        }
    }

    /**
     * "yes" when the continuations are equal; "near-tie at i" when they part where moed's own probabilities of the
     * two tokens are within NEAR_TIE of moed's top probability, relatively (the rest then follows different text and
     * is not compared); else "no, at i".
     */
    static String greedyVerdict(int[] mine, int[] theirs, float[][] probs) {
        int n = Math.min(mine.length, theirs.length);
        for (int i = 0; i < n; i++) {
            if (mine[i] != theirs[i]) {
                // Relative to the top probability: the low-bit files' distributions are flat (a mean p of 0.03),
                // where an absolute bound would excuse any parting.
                double gap = probs[i][mine[i]] - probs[i][theirs[i]];
                return gap <= NEAR_TIE * probs[i][mine[i]] ? String.format("near-tie at %d (%.4f)", i, gap) : String.format("no, at %d (gap %.4f)", i, gap);
            }
        }
        return mine.length == theirs.length ? "yes" : "no, lengths " + mine.length + " and " + theirs.length;
    }

    /** moed's next-token distribution at each position of the continuation, the continuation fed in one step. */
    static float[][] forcedProbabilities(Engine e, int[] prompt, int[] continuation) {
        int[] all = new int[prompt.length + continuation.length];
        System.arraycopy(prompt, 0, all, 0, prompt.length);
        System.arraycopy(continuation, 0, all, prompt.length, continuation.length);
        InferenceState s = e.newState();
        int from = prompt.length - 1;
        e.step(s, all, 0, all.length, from, StepPhase.PREFILL);
        float[][] p = new float[continuation.length][];
        for (int i = 0; i < continuation.length; i++) {
            p[i] = softmax(s.logits(from + i));
        }
        return p;
    }

    static float[] softmax(float[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double sum = 0;
        float[] p = new float[logits.length];
        for (int i = 0; i < p.length; i++) {
            sum += Math.exp(logits[i] - max);
        }
        for (int i = 0; i < p.length; i++) {
            p[i] = (float) (Math.exp(logits[i] - max) / sum);
        }
        return p;
    }

    static int[] ints(JsonNode a) {
        int[] v = new int[a.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = a.get(i).asInt();
        }
        return v;
    }

    JsonNode runLlamaCpp(List<Map<String, Object>> jobs) throws IOException, InterruptedException {
        Path jobsFile = tmp.resolve("jobs.json");
        Path outFile = tmp.resolve("out.json");
        JSON.writeValue(jobsFile.toFile(), jobs);
        Path script = NODE_DIR.resolve("llama-cpp.mjs");
        try (InputStream in = LlamaCppConformanceTest.class.getResourceAsStream("/conformance/llama-cpp.mjs")) {
            Files.write(script, in.readAllBytes());
        }
        Process node = new ProcessBuilder("node", script.toString(), jobsFile.toString(), outFile.toString())
                .directory(NODE_DIR.toFile()).redirectErrorStream(true).start();
        String log = new String(node.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(node.waitFor(300, TimeUnit.SECONDS), "llama.cpp did not finish: " + log);
        assertEquals(0, node.exitValue(), log);
        return JSON.readTree(outFile.toFile());
    }

    /** npm-installs node-llama-cpp with only its x64 CPU build under target/ once; false when that cannot be done. */
    static boolean installNodeLlamaCpp() throws IOException, InterruptedException {
        // --omit=optional skips the CUDA and Vulkan builds (about 700 MB); the CPU build is named explicitly.
        String version = NODE_LLAMA_CPP.substring(NODE_LLAMA_CPP.indexOf('@', 1) + 1);
        return NodePackages.install(NODE_DIR, "node-llama-cpp", List.of("--omit=optional"), NODE_LLAMA_CPP,
                "@node-llama-cpp/linux-x64@" + version);
    }
}
