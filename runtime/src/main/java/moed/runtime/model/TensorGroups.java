package moed.runtime.model;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import moed.kernels.GgmlType;
import moed.runtime.gguf.GgufTensor;

/**
 * What a file is made of: its tensors grouped by role (from their GGUF names), each group with its parameters,
 * bytes, bits per weight and formats; and the routed experts layer by layer, consecutive layers with the same
 * formats and sizes as one run. Low-bit "dynamic" quantizations mix formats by role and by layer, and this is
 * what {@code moed model info} shows of them.
 */
public final class TensorGroups {
    /** A tensor's role, in the order groups are listed. */
    public enum Role {
        EMBEDDING("token embedding"),
        OUTPUT("output"),
        ATTENTION("attention"),
        NORMS("norms"),
        ROUTER("router"),
        /** The routed experts' matrices: {@link Model#isExpertTensor}, what the expert cache holds. */
        EXPERTS("routed experts"),
        /** Per-expert biases (gpt-oss): small, F32, and resident with the rest rather than cached. */
        EXPERT_BIASES("expert biases"),
        SHARED_EXPERTS("shared experts"),
        DENSE_FFN("dense FFN"),
        OTHER("other");

        public final String label;

        Role(String label) {
            this.label = label;
        }

        /** The role of the tensor with this GGUF name. */
        public static Role of(String name) {
            String local = Model.layerOf(name) >= 0 ? name.substring(name.indexOf('.', 4) + 1) : name;
            int dot = local.lastIndexOf('.');
            String stem = dot < 0 ? local : local.substring(0, dot);
            if (stem.endsWith("norm") || stem.contains("_norm_")) {
                return NORMS;
            }
            if (stem.equals("token_embd")) {
                return EMBEDDING;
            }
            if (stem.equals("output")) {
                return OUTPUT;
            }
            if (stem.endsWith("_shexp")) {
                return SHARED_EXPERTS;
            }
            if (stem.endsWith("_exps")) {
                return Model.isExpertTensor(name) ? EXPERTS : EXPERT_BIASES;
            }
            if (stem.equals("ffn_gate_inp") || stem.equals("exp_probs_b")) {
                return ROUTER;
            }
            if (stem.startsWith("attn_")) {
                return ATTENTION;
            }
            if (stem.equals("ffn_gate") || stem.equals("ffn_up") || stem.equals("ffn_down")) {
                return DENSE_FFN;
            }
            return OTHER;
        }
    }

    /** Tensors, weights and bytes of some tensors, and how many tensors each format stores. */
    public record Group(String name, int tensors, long params, long bytes, Map<GgmlType, Integer> formats) {
        /** Average bits per weight: bytes x 8 / parameters. */
        public double bitsPerWeight() {
            return bytes * 8.0 / params;
        }

        /** The formats by count, most used first: {@code IQ2_XXS x40, Q2_K x8}. */
        public String formatList() {
            List<String> parts = new ArrayList<>();
            formats.entrySet().stream()
                    .sorted(Map.Entry.<GgmlType, Integer>comparingByValue().reversed().thenComparing(e -> e.getKey().name()))
                    .forEach(e -> parts.add(e.getKey() + " x" + e.getValue()));
            return String.join(", ", parts);
        }
    }

    /**
     * Consecutive layers whose routed experts have the same formats and sizes: each projection's format
     * ({@code gate}, {@code up}, {@code down}, as the tensor names have them), and per layer the experts, their
     * parameters and bytes.
     */
    public record ExpertLayers(int first, int last, Map<String, GgmlType> projections, long experts, long params, long bytes) {
        public double bitsPerWeight() {
            return bytes * 8.0 / params;
        }

        /** Bytes of one expert of one layer: all its projections. */
        public long bytesPerExpert() {
            return bytes / experts;
        }

        /** {@code layer 3} or {@code layers 0-2}. */
        public String layers() {
            return first == last ? "layer " + first : "layers " + first + "-" + last;
        }

        /** Projections by format, in the projections' order: {@code Q4_K gate/up, Q6_K down}. */
        public String formats() {
            Map<GgmlType, List<String>> byType = new LinkedHashMap<>();
            projections.forEach((p, t) -> byType.computeIfAbsent(t, k -> new ArrayList<>()).add(p));
            List<String> parts = new ArrayList<>();
            byType.forEach((t, ps) -> parts.add(t + " " + String.join("/", ps)));
            return String.join(", ", parts);
        }

        private boolean sameAs(ExpertLayers o) {
            return projections.equals(o.projections) && experts == o.experts && params == o.params && bytes == o.bytes;
        }
    }

    private final List<Group> groups;
    private final Group total;
    private final List<ExpertLayers> expertLayers;

    private TensorGroups(List<Group> groups, Group total, List<ExpertLayers> expertLayers) {
        this.groups = groups;
        this.total = total;
        this.expertLayers = expertLayers;
    }

    public static TensorGroups of(Collection<GgufTensor> tensors) {
        Map<Role, List<GgufTensor>> byRole = new EnumMap<>(Role.class);
        Map<Integer, List<GgufTensor>> expertsByLayer = new TreeMap<>();
        for (GgufTensor t : tensors) {
            Role r = Role.of(t.name());
            byRole.computeIfAbsent(r, k -> new ArrayList<>()).add(t);
            int layer = Model.layerOf(t.name());
            if (r == Role.EXPERTS && layer >= 0) {
                expertsByLayer.computeIfAbsent(layer, k -> new ArrayList<>()).add(t);
            }
        }
        List<Group> groups = new ArrayList<>();
        byRole.forEach((r, ts) -> groups.add(sum(r.label, ts)));
        List<ExpertLayers> runs = new ArrayList<>();
        expertsByLayer.forEach((layer, ts) -> {
            ExpertLayers l = layer(layer, ts);
            ExpertLayers prev = runs.isEmpty() ? null : runs.getLast();
            if (prev != null && prev.last == layer - 1 && prev.sameAs(l)) {
                runs.set(runs.size() - 1, new ExpertLayers(prev.first, layer, prev.projections, prev.experts, prev.params, prev.bytes));
            } else {
                runs.add(l);
            }
        });
        return new TensorGroups(List.copyOf(groups), sum("total", tensors), List.copyOf(runs));
    }

    /** The groups that have tensors, in {@link Role} order. */
    public List<Group> groups() {
        return groups;
    }

    /** Every tensor of the file as one group. */
    public Group total() {
        return total;
    }

    /** The routed experts layer by layer, consecutive identical layers as one run; empty for a dense model. */
    public List<ExpertLayers> expertLayers() {
        return expertLayers;
    }

    private static Group sum(String name, Collection<GgufTensor> ts) {
        long params = 0;
        long bytes = 0;
        Map<GgmlType, Integer> formats = new EnumMap<>(GgmlType.class);
        for (GgufTensor t : ts) {
            params += t.elements();
            bytes += t.byteSize();
            formats.merge(t.type(), 1, Integer::sum);
        }
        return new Group(name, ts.size(), params, bytes, formats);
    }

    private static final List<String> PROJECTION_ORDER = List.of("gate", "up", "gate_up", "down");

    private static ExpertLayers layer(int layer, List<GgufTensor> ts) {
        List<GgufTensor> sorted = new ArrayList<>(ts);
        sorted.sort(Comparator.comparing((GgufTensor t) -> {
            int i = PROJECTION_ORDER.indexOf(projection(t.name()));
            return i < 0 ? PROJECTION_ORDER.size() : i;
        }).thenComparing(t -> projection(t.name())));
        Map<String, GgmlType> projections = new LinkedHashMap<>();
        long params = 0;
        long bytes = 0;
        for (GgufTensor t : sorted) {
            projections.put(projection(t.name()), t.type());
            params += t.elements();
            bytes += t.byteSize();
        }
        // A 3-D expert tensor is [columns, rows, experts]: every projection of a layer has the same experts.
        return new ExpertLayers(layer, layer, projections, Math.max(1, sorted.getFirst().dim(2)), params, bytes);
    }

    /** {@code blk.3.ffn_gate_exps.weight} -> {@code gate}. */
    private static String projection(String name) {
        String stem = name.substring(name.indexOf('.', 4) + 1, name.length() - "_exps.weight".length());
        return stem.startsWith("ffn_") ? stem.substring(4) : stem;
    }
}
