package moed.runtime.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import moed.kernels.GgmlType;
import moed.runtime.gguf.GgufTensor;
import moed.runtime.model.TensorGroups.ExpertLayers;
import moed.runtime.model.TensorGroups.Group;
import moed.runtime.model.TensorGroups.Role;
import org.junit.jupiter.api.Test;

/** Tensor roles from GGUF names, and the sums and per-layer expert runs of a mixed "dynamic" quantization. */
class TensorGroupsTest {
    @Test
    void rolesFollowTheTensorNames() {
        assertEquals(Role.EMBEDDING, Role.of("token_embd.weight"));
        assertEquals(Role.OUTPUT, Role.of("output.weight"));
        assertEquals(Role.NORMS, Role.of("output_norm.weight"));
        assertEquals(Role.NORMS, Role.of("token_embd_norm.weight"));
        for (String n : List.of("attn_norm", "ffn_norm", "attn_q_norm", "attn_k_norm", "attn_q_a_norm", "attn_kv_a_norm",
                "post_attention_norm")) {
            assertEquals(Role.NORMS, Role.of("blk.0." + n + ".weight"), n);
        }
        for (String n : List.of("attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight", "attn_q.bias",
                "attn_q_a.weight", "attn_q_b.weight", "attn_kv_a_mqa.weight", "attn_kv_b.weight", "attn_k_b.weight",
                "attn_v_b.weight", "attn_sinks.weight")) {
            assertEquals(Role.ATTENTION, Role.of("blk.12." + n), n);
        }
        assertEquals(Role.ROUTER, Role.of("blk.3.ffn_gate_inp.weight"));
        assertEquals(Role.ROUTER, Role.of("blk.3.ffn_gate_inp.bias"));
        assertEquals(Role.ROUTER, Role.of("blk.3.exp_probs_b.bias"));
        for (String n : List.of("ffn_gate_exps", "ffn_up_exps", "ffn_down_exps")) {
            assertEquals(Role.EXPERTS, Role.of("blk.3." + n + ".weight"), n);
            assertEquals(Role.EXPERT_BIASES, Role.of("blk.3." + n + ".bias"), n);
        }
        for (String n : List.of("ffn_gate_shexp", "ffn_up_shexp", "ffn_down_shexp", "ffn_gate_inp_shexp")) {
            assertEquals(Role.SHARED_EXPERTS, Role.of("blk.3." + n + ".weight"), n);
        }
        for (String n : List.of("ffn_gate", "ffn_up", "ffn_down")) {
            assertEquals(Role.DENSE_FFN, Role.of("blk.0." + n + ".weight"), n);
        }
        assertEquals(Role.OTHER, Role.of("rope_freqs.weight"));
        assertEquals(Role.OTHER, Role.of("blk.0.something_new.weight"));
    }

    private static GgufTensor tensor(String name, GgmlType type, long... dims) {
        long n = 1;
        for (long d : dims) {
            n *= d;
        }
        return new GgufTensor(name, type, dims, 0, type.bytesFor(n), null);
    }

    /** 5 layers of 8 experts (256 wide, 512 hidden) stored as a low-bit dynamic quant stores them. */
    private static List<GgufTensor> dynamicQuant() {
        GgmlType[][] experts = {  // gate, up, down per layer
            {GgmlType.Q4_K, GgmlType.Q4_K, GgmlType.Q6_K},
            {GgmlType.Q4_K, GgmlType.Q4_K, GgmlType.Q6_K},
            {GgmlType.IQ2_XXS, GgmlType.IQ2_XXS, GgmlType.IQ2_XXS},
            {GgmlType.IQ2_XXS, GgmlType.IQ2_XXS, GgmlType.IQ2_XXS},
            {GgmlType.IQ1_S, GgmlType.IQ1_S, GgmlType.Q2_K},
        };
        List<GgufTensor> ts = new ArrayList<>();
        ts.add(tensor("token_embd.weight", GgmlType.Q8_0, 256, 1000));
        ts.add(tensor("output_norm.weight", GgmlType.F32, 256));
        ts.add(tensor("output.weight", GgmlType.Q6_K, 256, 1000));
        for (int l = 0; l < experts.length; l++) {
            String p = "blk." + l + ".";
            ts.add(tensor(p + "attn_norm.weight", GgmlType.F32, 256));
            ts.add(tensor(p + "attn_q.weight", GgmlType.Q4_K, 256, 256));
            ts.add(tensor(p + "attn_k.weight", GgmlType.Q4_K, 256, 128));
            ts.add(tensor(p + "attn_v.weight", GgmlType.Q6_K, 256, 128));
            ts.add(tensor(p + "attn_output.weight", GgmlType.Q4_K, 256, 256));
            ts.add(tensor(p + "ffn_norm.weight", GgmlType.F32, 256));
            ts.add(tensor(p + "ffn_gate_inp.weight", GgmlType.F32, 256, 8));
            // As llama.cpp's files order them: down first.
            ts.add(tensor(p + "ffn_down_exps.weight", experts[l][2], 512, 256, 8));
            ts.add(tensor(p + "ffn_gate_exps.weight", experts[l][0], 256, 512, 8));
            ts.add(tensor(p + "ffn_up_exps.weight", experts[l][1], 256, 512, 8));
        }
        return ts;
    }

    @Test
    void groupsSumTensorsParametersAndBytesByRole() {
        TensorGroups g = TensorGroups.of(dynamicQuant());
        List<String> names = g.groups().stream().map(Group::name).toList();
        assertEquals(List.of("token embedding", "output", "attention", "norms", "router", "routed experts"), names);

        Group embd = g.groups().get(0);
        assertEquals(256_000, embd.params());
        assertEquals(256_000 / 32 * 34, embd.bytes());
        assertEquals(8.5, embd.bitsPerWeight());
        assertEquals(GgmlType.Q8_0.bitsPerWeight(), embd.bitsPerWeight());

        Group attention = g.groups().get(2);
        assertEquals(20, attention.tensors());
        assertEquals(5L * (2 * 65_536 + 2 * 32_768), attention.params());
        // Per layer: Q4_K q, k, o (163,840 weights at 144 bytes a 256) and Q6_K v (32,768 at 210).
        assertEquals(5L * (163_840 / 256 * 144 + 32_768 / 256 * 210), attention.bytes());
        assertEquals((163_840 * 4.5 + 32_768 * 6.5625) / 196_608, attention.bitsPerWeight(), 1e-12);
        assertEquals(Map.of(GgmlType.Q4_K, 15, GgmlType.Q6_K, 5), attention.formats());
        assertEquals("Q4_K x15, Q6_K x5", attention.formatList());

        Group norms = g.groups().get(3);
        assertEquals(11, norms.tensors());
        assertEquals(32.0, norms.bitsPerWeight());

        Group experts = g.groups().get(5);
        assertEquals(15, experts.tensors());
        long perTensor = 512L * 256 * 8;
        assertEquals(15 * perTensor, experts.params());
        long bytes = perTensor / 256 * (4 * 144 + 2 * 210 + 6 * 66 + 2 * 50 + 84);
        assertEquals(bytes, experts.bytes());
        assertEquals(bytes * 8.0 / (15 * perTensor), experts.bitsPerWeight());
        assertEquals("IQ2_XXS x6, Q4_K x4, IQ1_S x2, Q6_K x2, Q2_K x1", experts.formatList());

        Group total = g.total();
        assertEquals(dynamicQuant().size(), total.tensors());
        assertEquals(g.groups().stream().mapToLong(Group::params).sum(), total.params());
        assertEquals(g.groups().stream().mapToLong(Group::bytes).sum(), total.bytes());
    }

    @Test
    void expertLayersJoinConsecutiveIdenticalLayers() {
        List<ExpertLayers> runs = TensorGroups.of(dynamicQuant()).expertLayers();
        assertEquals(3, runs.size());

        ExpertLayers first = runs.get(0);
        assertEquals("layers 0-1", first.layers());
        assertEquals("Q4_K gate/up, Q6_K down", first.formats());
        assertEquals(8, first.experts());
        // One expert: gate and up 131,072 Q4_K weights each, down 131,072 Q6_K ones.
        assertEquals(2 * 131_072 / 256 * 144 + 131_072 / 256 * 210, first.bytesPerExpert());
        assertEquals((2 * 4.5 + 6.5625) / 3, first.bitsPerWeight());

        ExpertLayers second = runs.get(1);
        assertEquals("layers 2-3", second.layers());
        assertEquals("IQ2_XXS gate/up/down", second.formats());
        assertEquals(2.0625, second.bitsPerWeight());
        assertEquals(GgmlType.IQ2_XXS.bitsPerWeight(), second.bitsPerWeight());
        assertEquals(3 * 131_072 / 256 * 66, second.bytesPerExpert());

        ExpertLayers last = runs.get(2);
        assertEquals("layer 4", last.layers());
        assertEquals("IQ1_S gate/up, Q2_K down", last.formats());
        assertEquals((2 * 1.5625 + 2.625) / 3, last.bitsPerWeight());
    }

    @Test
    void uniformLayersAreOneRunAndSameFormatsOfOtherSizesAreNot() {
        List<GgufTensor> ts = new ArrayList<>();
        for (int l = 0; l < 4; l++) {
            // A dense first layer, then experts whose hidden size grows at layer 3.
            if (l == 0) {
                ts.add(tensor("blk.0.ffn_up.weight", GgmlType.Q8_0, 64, 256));
                continue;
            }
            long ff = l == 3 ? 128 : 64;
            ts.add(tensor("blk." + l + ".ffn_gate_exps.weight", GgmlType.Q8_0, 64, ff, 4));
            ts.add(tensor("blk." + l + ".ffn_up_exps.weight", GgmlType.Q8_0, 64, ff, 4));
            ts.add(tensor("blk." + l + ".ffn_down_exps.weight", GgmlType.Q8_0, ff, 64, 4));
        }
        List<ExpertLayers> runs = TensorGroups.of(ts).expertLayers();
        assertEquals(List.of("layers 1-2", "layer 3"), runs.stream().map(ExpertLayers::layers).toList());
        assertEquals("Q8_0 gate/up/down", runs.get(0).formats());
        assertEquals(3 * 64 * 64 / 32 * 34, runs.get(0).bytesPerExpert());
        assertEquals(2 * runs.get(0).bytesPerExpert(), runs.get(1).bytesPerExpert());
        assertEquals(List.of("routed experts", "dense FFN"), TensorGroups.of(ts).groups().stream().map(Group::name).toList());

        ts.removeIf(t -> t.name().startsWith("blk.3."));
        assertEquals(List.of("layers 1-2"), TensorGroups.of(ts).expertLayers().stream().map(ExpertLayers::layers).toList());
    }
}
