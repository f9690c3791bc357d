package moed.tools.cli;

import java.io.PrintStream;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import moed.kernels.GgmlType;
import moed.runtime.gguf.FileType;
import moed.runtime.gguf.GgufArray;
import moed.runtime.gguf.GgufFile;
import moed.runtime.gguf.GgufTensor;
import moed.runtime.model.Architecture;
import moed.runtime.model.ModelConfig;
import moed.runtime.model.ModelInflater;
import moed.runtime.model.SyntheticModel;
import moed.runtime.model.TensorGroups;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code moed model info|synth|inflate|tokenizer}: look inside GGUF files, make new ones, export their vocabulary. */
@Command(name = "model", mixinStandardHelpOptions = true, description = "Inspect, synthesize and inflate GGUF models; export their tokenizer.",
        subcommands = {ModelCommand.Info.class, ModelCommand.Synth.class, ModelCommand.Inflate.class, ModelCommand.TokenizerExport.class})
final class ModelCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    static GgmlType type(String name) {
        GgmlType t = GgmlType.byName(name);
        if (t == null) {
            throw new IllegalArgumentException("unknown tensor type '" + name + "'; e.g. F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K");
        }
        return t;
    }

    @Command(name = "info", mixinStandardHelpOptions = true,
            description = "Print a model's metadata, architecture, tensor groups with their formats and bits per weight, "
                    + "routed experts layer by layer, and bytes in experts vs everything else.")
    static final class Info implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "FILE", description = "the GGUF file")
        Path file;

        @Option(names = "--json", description = "print JSON instead of text")
        boolean json;

        @Option(names = "--tensors", description = "list every tensor (text output)")
        boolean listTensors;

        @Override
        public Integer call() throws Exception {
            try (GgufFile f = GgufFile.open(file)) {
                Map<String, Object> report = report(f);
                if (json) {
                    System.out.println(Json.write(report));
                } else {
                    printText(f, report, listTensors, System.out);
                }
            }
            return 0;
        }

        static Map<String, Object> report(GgufFile f) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("file", f.path().toString());
            r.put("gguf_version", f.version());
            r.put("file_bytes", f.fileSize());
            r.put("alignment", f.alignment());
            r.put("file_type", FileType.describe(f));
            Map<String, Object> meta = new LinkedHashMap<>();
            for (var e : f.metadata().entrySet()) {
                Object v = e.getValue();
                meta.put(e.getKey(), v instanceof GgufArray a ? "[" + a.elementType() + " x " + a.size() + "]" : v);
            }
            r.put("metadata", meta);
            try {
                ModelConfig c = ModelConfig.from(f);
                Map<String, Object> arch = new LinkedHashMap<>();
                arch.put("architecture", c.architecture());
                arch.put("layers", c.layers());
                arch.put("dim", c.dim());
                arch.put("heads", c.heads());
                arch.put("kv_heads", c.kvHeads());
                arch.put("head_dim", c.headDim());
                arch.put("experts", c.experts());
                arch.put("experts_used", c.expertsUsed());
                arch.put("feed_forward", c.feedForward());
                arch.put("vocab", c.vocab());
                arch.put("context_length", c.contextLength());
                arch.put("rope_base", c.rope().base());
                r.put("model", arch);
            } catch (RuntimeException e) {
                r.put("model_error", e.getMessage());
            }
            List<Map<String, Object>> tensors = new ArrayList<>();
            long expertBytes = 0;
            long otherBytes = 0;
            long params = 0;
            Map<Integer, long[]> perLayer = new java.util.TreeMap<>();
            Map<String, Long> byType = new java.util.TreeMap<>();
            for (GgufTensor t : f.tensors().values()) {
                Map<String, Object> tm = new LinkedHashMap<>();
                tm.put("name", t.name());
                tm.put("type", t.type().name());
                tm.put("shape", t.dims());
                tm.put("bytes", t.byteSize());
                tensors.add(tm);
                boolean ex = moed.runtime.model.Model.isExpertTensor(t.name());
                if (ex) {
                    expertBytes += t.byteSize();
                } else {
                    otherBytes += t.byteSize();
                }
                params += t.elements();
                byType.merge(t.type().name(), 1L, Long::sum);
                int l = moed.runtime.model.Model.layerOf(t.name());
                if (l >= 0) {
                    perLayer.computeIfAbsent(l, k -> new long[2])[ex ? 0 : 1] += t.byteSize();
                }
            }
            r.put("tensor_count", tensors.size());
            r.put("parameters", params);
            r.put("tensor_types", byType);
            r.put("expert_bytes", expertBytes);
            r.put("resident_bytes", otherBytes);
            List<Map<String, Object>> layers = new ArrayList<>();
            for (var e : perLayer.entrySet()) {
                layers.add(Map.of("layer", e.getKey(), "expert_bytes", e.getValue()[0], "resident_bytes", e.getValue()[1]));
            }
            r.put("layers", layers);
            TensorGroups g = TensorGroups.of(f.tensors().values());
            r.put("bits_per_weight", g.total().bitsPerWeight());
            Map<String, Double> typeBpw = new java.util.TreeMap<>();
            for (GgufTensor t : f.tensors().values()) {
                typeBpw.put(t.type().name(), t.type().bitsPerWeight());
            }
            r.put("type_bits_per_weight", typeBpw);
            List<Map<String, Object>> groups = new ArrayList<>();
            for (TensorGroups.Group gr : g.groups()) {
                Map<String, Object> gm = new LinkedHashMap<>();
                gm.put("group", gr.name());
                gm.put("tensors", gr.tensors());
                gm.put("parameters", gr.params());
                gm.put("bytes", gr.bytes());
                gm.put("bits_per_weight", gr.bitsPerWeight());
                Map<String, Integer> formats = new LinkedHashMap<>();
                gr.formats().forEach((t, n) -> formats.put(t.name(), n));
                gm.put("formats", formats);
                groups.add(gm);
            }
            r.put("groups", groups);
            List<Map<String, Object>> expertLayers = new ArrayList<>();
            for (TensorGroups.ExpertLayers el : g.expertLayers()) {
                Map<String, Object> em = new LinkedHashMap<>();
                em.put("first_layer", el.first());
                em.put("last_layer", el.last());
                Map<String, String> projections = new LinkedHashMap<>();
                el.projections().forEach((p, t) -> projections.put(p, t.name()));
                em.put("projections", projections);
                em.put("experts", el.experts());
                em.put("bytes_per_expert", el.bytesPerExpert());
                em.put("bits_per_weight", el.bitsPerWeight());
                expertLayers.add(em);
            }
            r.put("expert_layers", expertLayers);
            r.put("tensors", tensors);
            return r;
        }

        @SuppressWarnings("unchecked")
        static void printText(GgufFile f, Map<String, Object> r, boolean listTensors, PrintStream out) {
            out.printf("%s: GGUF v%d, %s, %d tensors, %s parameters%n", f.path(), f.version(), mib(f.fileSize()),
                    r.get("tensor_count"), String.format("%,d", (Long) r.get("parameters")));
            Map<String, Object> arch = (Map<String, Object>) r.get("model");
            if (arch != null) {
                out.printf("architecture %s: %d layers, width %d, %d query / %d key-value heads of %d, vocabulary %d, context %d%n",
                        arch.get("architecture"), arch.get("layers"), arch.get("dim"), arch.get("heads"), arch.get("kv_heads"),
                        arch.get("head_dim"), arch.get("vocab"), arch.get("context_length"));
                if ((Integer) arch.get("experts") > 0) {
                    out.printf("experts: %d per layer, top-%d, expert hidden size %d%n", arch.get("experts"),
                            arch.get("experts_used"), arch.get("feed_forward"));
                } else {
                    out.printf("dense: feed-forward hidden size %d%n", arch.get("feed_forward"));
                }
            } else {
                out.println("architecture: " + r.get("model_error"));
            }
            if (r.get("file_type") != null) {
                out.println("file type: " + r.get("file_type"));
            }
            List<String> types = new ArrayList<>();
            ((Map<String, Long>) r.get("tensor_types")).forEach((t, n) ->
                    types.add(t + " x" + n + " (" + bits(GgmlType.byName(t).bitsPerWeight()) + " bpw)"));
            out.println("tensor types: " + String.join(", ", types));
            printGroups(TensorGroups.of(f.tensors().values()), out);
            long ex = (Long) r.get("expert_bytes");
            long res = (Long) r.get("resident_bytes");
            out.printf("bytes: experts %s (cacheable), everything else %s (pinned resident), total %s%n",
                    mib(ex), mib(res), mib(ex + res));
            out.println("per layer (experts / pinned):");
            for (Map<String, Object> l : (List<Map<String, Object>>) r.get("layers")) {
                out.printf("  blk.%-3s %12s / %s%n", l.get("layer"), mib((Long) l.get("expert_bytes")), mib((Long) l.get("resident_bytes")));
            }
            out.println("metadata:");
            for (var e : ((Map<String, Object>) r.get("metadata")).entrySet()) {
                String v = String.valueOf(e.getValue());
                out.printf("  %-45s %s%n", e.getKey(), v.length() > 80 ? v.substring(0, 77) + "..." : v);
            }
            if (listTensors) {
                out.println("tensors:");
                for (GgufTensor t : f.tensors().values()) {
                    out.printf("  %-32s %-6s %-22s %s%n", t.name(), t.type(), t.shape(), mib(t.byteSize()));
                }
            }
        }
    }

    /** The tensor groups as a table, then the routed experts by layer. */
    static void printGroups(TensorGroups g, PrintStream out) {
        int name = "tensor groups".length();
        for (TensorGroups.Group gr : g.groups()) {
            name = Math.max(name, gr.name().length() + 2);
        }
        String row = "%-" + name + "s %7s %15s %11s %6s  %s";
        out.println(String.format(Locale.ROOT, row, "tensor groups", "tensors", "parameters", "bytes", "bpw", "formats"));
        List<TensorGroups.Group> rows = new ArrayList<>(g.groups());
        rows.add(g.total());
        for (TensorGroups.Group gr : rows) {
            out.println(String.format(Locale.ROOT, row, "  " + gr.name(), gr.tensors(), String.format(Locale.ROOT, "%,d", gr.params()),
                    size(gr.bytes()), String.format(Locale.ROOT, "%.2f", gr.bitsPerWeight()), gr == g.total() ? "" : gr.formatList()).stripTrailing());
        }
        if (g.expertLayers().isEmpty()) {
            return;
        }
        out.println("routed experts by layer:");
        int label = 0;
        int formats = 0;
        int bpw = 0;
        int bytes = 0;
        for (TensorGroups.ExpertLayers l : g.expertLayers()) {
            label = Math.max(label, l.layers().length() + 1);
            formats = Math.max(formats, l.formats().length() + 1);
            bpw = Math.max(bpw, String.format(Locale.ROOT, "%.2f", l.bitsPerWeight()).length());
            bytes = Math.max(bytes, size(l.bytesPerExpert()).length());
        }
        for (TensorGroups.ExpertLayers l : g.expertLayers()) {
            out.println(String.format(Locale.ROOT, "  %-" + label + "s %-" + formats + "s %" + bpw + ".2f bpw, %" + bytes + "s per expert",
                    l.layers() + ":", l.formats() + ",", l.bitsPerWeight(), size(l.bytesPerExpert())));
        }
    }

    /** A nominal bits-per-weight figure exactly: 2.0625, 4.5, 32. */
    static String bits(double bpw) {
        return new BigDecimal(bpw).stripTrailingZeros().toPlainString();
    }

    /** Bytes in KiB, MiB or GiB, whichever reads best. */
    static String size(long bytes) {
        return bytes < 1 << 20 ? String.format(Locale.ROOT, "%.2f KiB", bytes / 1024.0) : mib(bytes);
    }

    static String mib(long bytes) {
        return bytes >= 1 << 30 ? String.format("%.2f GiB", bytes / (double) (1 << 30))
                : String.format("%.2f MiB", bytes / (double) (1 << 20));
    }

    @Command(name = "synth", mixinStandardHelpOptions = true,
            description = "Write a deterministic synthetic MoE model of any supported architecture (random weights, a valid vocabulary: "
                    + "SentencePiece for llama, byte-level BPE learned from English text for the others).")
    static final class Synth implements Callable<Integer> {
        @Option(names = "--out", required = true, description = "output GGUF file")
        Path out;
        @Option(names = "--arch", defaultValue = "llama", description = "architecture: llama (Mixtral-style), qwen3moe, qwen2moe, olmoe, gpt-oss, deepseek2")
        String arch;
        @Option(names = "--layers", defaultValue = "4") int layers;
        @Option(names = "--dim", defaultValue = "256") int dim;
        @Option(names = "--heads", defaultValue = "8") int heads;
        @Option(names = "--kv-heads", defaultValue = "4", description = "key/value heads (deepseek2: as --convention has it)")
        int kvHeads;
        @Option(names = "--head-dim", defaultValue = "0", description = "size of one attention head (default dim / heads; Qwen3 uses 128)")
        int headDim;
        @Option(names = "--experts", defaultValue = "8", description = "experts per layer (0 for a dense llama model)") int experts;
        @Option(names = "--top-k", defaultValue = "2") int topK;
        @Option(names = "--expert-ff", defaultValue = "128", description = "expert (or dense FFN) hidden size") int expertFf;
        @Option(names = "--shared-ff", defaultValue = "-1",
                description = "shared expert hidden size (qwen2moe: default 4 x expert-ff; deepseek2: a multiple of expert-ff, "
                        + "default 2 x; none elsewhere)") int sharedFf;
        @Option(names = "--q-lora-rank", defaultValue = "-1",
                description = "deepseek2: the query's low-rank bottleneck (0: direct projection, as V2-Lite; default dim / 2)")
        int qLoraRank;
        @Option(names = "--kv-lora-rank", defaultValue = "-1", description = "deepseek2: latent rank (default dim / 4, at least 32)")
        int kvLoraRank;
        @Option(names = "--rope-dim", defaultValue = "-1", description = "deepseek2: rotary part of each head (default head-dim / 3)")
        int ropeDim;
        @Option(names = "--dense-layers", defaultValue = "1", description = "deepseek2: leading dense layers (FFN 4 x expert-ff wide)")
        int denseLayers;
        @Option(names = "--routing", defaultValue = "v3",
                description = "deepseek2: v3 (sigmoid, selection bias, 4 expert groups, 2 used) or v2 (softmax)")
        String routing;
        @Option(names = "--convention", defaultValue = "mainline",
                description = "deepseek2: how the file spells latent attention: mainline (llama.cpp's converter since "
                        + "April 2025: one KV head, *_mla keys, attn_k_b/attn_v_b split per head), legacy (older llama.cpp: "
                        + "per-head key/value lengths, whole attn_kv_b) or ik (ik_llama.cpp's converter: legacy's keys and "
                        + "attn_kv_b plus 2-D attn_k_b/attn_v_b)")
        String convention;
        @Option(names = "--vocab", defaultValue = "512") int vocab;
        @Option(names = "--context", defaultValue = "2048") int context;
        @Option(names = "--type", defaultValue = "Q8_0", description = "weight type: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K") String type;
        @Option(names = "--expert-type", description = "experts' weight type if not --type (e.g. MXFP4, as gpt-oss files have)")
        String expertType;
        @Option(names = "--sliding-window", defaultValue = "128", description = "gpt-oss: attention window of its even layers")
        int slidingWindow;
        @Option(names = "--seed", defaultValue = "1") long seed;

        @Override
        public Integer call() throws Exception {
            Architecture a = Architecture.byName(arch);
            if (a == null) {
                throw new IllegalArgumentException("--arch " + arch + " is not supported; supported: " + Architecture.supportedNames());
            }
            boolean ds = a == Architecture.DEEPSEEK2;
            int shared = sharedFf >= 0 ? sharedFf : a == Architecture.QWEN2MOE ? 4 * expertFf : ds ? 2 * expertFf : 0;
            SyntheticModel.DeepSeek latent = null;
            if (ds) {
                if (!routing.equals("v2") && !routing.equals("v3")) {
                    throw new IllegalArgumentException("--routing " + routing + ": use v2 or v3");
                }
                SyntheticModel.MlaConvention mla = switch (convention) {
                    case "mainline" -> SyntheticModel.MlaConvention.MAINLINE;
                    case "legacy" -> SyntheticModel.MlaConvention.LEGACY;
                    case "ik" -> SyntheticModel.MlaConvention.IK;
                    default -> throw new IllegalArgumentException("--convention " + convention + ": use mainline, legacy or ik");
                };
                int hd = headDim > 0 ? headDim : dim / heads;
                var d = SyntheticModel.DeepSeek.defaults(dim, hd, expertFf);
                int rope = ropeDim > 0 ? ropeDim : d.ropeDim();
                latent = new SyntheticModel.DeepSeek(qLoraRank >= 0 ? qLoraRank : d.qLoraRank(),
                        kvLoraRank > 0 ? kvLoraRank : d.kvLoraRank(), rope, hd - rope, denseLayers, d.denseFf(),
                        routing.equals("v3"), mla);
            }
            var spec = new SyntheticModel.Spec(a, layers, dim, heads, ds ? heads : kvHeads, headDim, experts, topK, expertFf, shared, vocab,
                    type(type), expertType == null ? null : type(expertType), a == Architecture.GPT_OSS ? slidingWindow : 0, seed,
                    context, latent);
            SyntheticModel.write(spec, out, new Progress("writing " + out.getFileName())::update);
            System.out.printf("wrote %s (%s)%n", out, mib(Files.size(out)));
            return 0;
        }
    }

    @Command(name = "inflate", mixinStandardHelpOptions = true,
            description = "Grow every expert's hidden size with neurons that add exactly zero: same outputs and routing, realistic bytes.")
    static final class Inflate implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "IN") Path in;
        @Parameters(index = "1", paramLabel = "OUT") Path out;
        @Option(names = "--expert-ff", required = true, description = "new expert hidden size") int expertFf;
        @Option(names = "--type", description = "re-quantize weights to this type (default: keep each tensor's)") String type;
        @Option(names = "--seed", defaultValue = "1") long seed;

        @Override
        public Integer call() throws Exception {
            ModelInflater.inflate(in, out, expertFf, type == null ? null : type(type), seed,
                    new Progress("inflating to " + out.getFileName())::update);
            System.out.printf("wrote %s (%s, was %s)%n", out, mib(Files.size(out)), mib(Files.size(in)));
            return 0;
        }
    }

    @Command(name = "tokenizer", mixinStandardHelpOptions = true,
            description = "Write the file's vocabulary as a Hugging Face tokenizer.json (BPE with the file's pre-tokenizer for gpt2 "
                    + "vocabularies; Llama-2's byte-fallback BPE with merges from the scores for SentencePiece ones).")
    static final class TokenizerExport implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "FILE", description = "the GGUF file")
        Path file;

        @Option(names = "--json", required = true, paramLabel = "OUT", description = "the tokenizer.json to write")
        Path out;

        @Override
        public Integer call() throws Exception {
            try (GgufFile f = GgufFile.open(file)) {
                HfTokenizerJson.Summary s = HfTokenizerJson.write(f, out);
                System.out.printf("wrote %s: %s vocabulary%s, %d tokens, %d merges, %d added tokens%n", out,
                        s.model().equals("llama") ? "SentencePiece" : "byte-level BPE",
                        s.preTokenizer() == null ? "" : " (pre-tokenizer " + s.preTokenizer() + ")", s.vocab(), s.merges(),
                        s.addedTokens());
            }
            return 0;
        }
    }
}
