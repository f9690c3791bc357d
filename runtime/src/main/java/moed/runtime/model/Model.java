package moed.runtime.model;

import moed.cache.ExpertLayout;
import moed.kernels.Dequantize;
import moed.kernels.GgmlType;
import moed.kernels.Interleaved;
import moed.kernels.WeightMatrix;
import moed.runtime.gguf.GgufFile;
import moed.runtime.gguf.GgufFormatException;
import moed.runtime.gguf.GgufTensor;

/**
 * A model's weights as views of its GGUF file: the pinned tensors (embeddings, attention, norms, routers,
 * output) and the layout of its experts, which the forward pass reads through an expert source. Every
 * tensor's shape is checked against the configuration when the model is opened, so a bad file fails here
 * with the tensor's name rather than deep inside a kernel.
 */
public final class Model {
    private final GgufFile file;
    private final ModelConfig config;
    private final WeightMatrix tokenEmbedding;
    private final float[] outputNorm;
    private final WeightMatrix output;
    private final LayerWeights[] layers;
    private final ExpertLayout expertLayout;

    private Model(GgufFile file, ModelConfig config, WeightMatrix tokenEmbedding, float[] outputNorm, WeightMatrix output,
                  LayerWeights[] layers, ExpertLayout expertLayout) {
        this.file = file;
        this.config = config;
        this.tokenEmbedding = tokenEmbedding;
        this.outputNorm = outputNorm;
        this.output = output;
        this.layers = layers;
        this.expertLayout = expertLayout;
    }

    /**
     * This model with its dense matrices (attention, dense and shared feed-forward, output; not the token embedding,
     * read row by row) in the layout their fastest kernel reads, copied where that differs from the file's
     * ({@link Interleaved#copyIfWorthwhile}: Q4_K, and Q8_0 at 512 bits). For running; the file's views stay with {@link #load}.
     */
    public Model withMatricesForDecode() {
        LayerWeights[] mapped = new LayerWeights[layers.length];
        for (int l = 0; l < layers.length; l++) {
            mapped[l] = layers[l].withMatrices(Interleaved::copyIfWorthwhile);
        }
        WeightMatrix out = output == tokenEmbedding ? output : Interleaved.copyIfWorthwhile(output);
        return new Model(file, config, tokenEmbedding, outputNorm, out, mapped, expertLayout);
    }

    public static Model load(GgufFile f) {
        ModelConfig c = ModelConfig.from(f);
        Shapes s = new Shapes(f);
        WeightMatrix embd = s.matrix("token_embd.weight", c.dim(), c.vocab());
        float[] outNorm = s.vector("output_norm.weight", c.dim());
        // No output tensor means the embedding is tied to the output, as llama.cpp falls back to.
        WeightMatrix out = f.tensor("output.weight") != null ? s.matrix("output.weight", c.dim(), c.vocab()) : embd;
        LayerWeights[] layers = new LayerWeights[c.layers()];
        ExpertLayout.Layer[] experts = new ExpertLayout.Layer[c.layers()];
        for (int l = 0; l < c.layers(); l++) {
            String p = "blk." + l + ".";
            WeightMatrix router = null;
            float[] routerBias = null;
            moed.kernels.RouterScoring scoring = null;
            LayerWeights.ExpertBiases expertBiases = null;
            WeightMatrix gate = null;
            WeightMatrix up = null;
            WeightMatrix down = null;
            if (c.isMoeLayer(l)) {
                router = s.matrix(p + "ffn_gate_inp.weight", c.dim(), c.experts());
                int ff = expertHidden(f, p, c);
                routerBias = s.optionalVector(p + "ffn_gate_inp.bias", c.experts());
                scoring = new moed.kernels.RouterScoring(c.gating(), s.optionalVector(p + "exp_probs_b.bias", c.experts()),
                        c.expertGroups(), c.expertGroupsUsed());
                if (f.tensor(p + "ffn_gate_exps.bias") != null) {
                    expertBiases = new LayerWeights.ExpertBiases(s.rows(p + "ffn_gate_exps.bias", ff, c.experts()),
                            s.rows(p + "ffn_up_exps.bias", ff, c.experts()), s.rows(p + "ffn_down_exps.bias", c.dim(), c.experts()));
                }
                experts[l] = new ExpertLayout.Layer(
                        s.stacked(p + "ffn_gate_exps.weight", c.dim(), ff, c.experts()),
                        s.stacked(p + "ffn_up_exps.weight", c.dim(), ff, c.experts()),
                        s.stacked(p + "ffn_down_exps.weight", ff, c.dim(), c.experts()));
            } else {
                int ff = c.isMoe() ? c.denseFeedForward() : c.feedForward();
                gate = s.matrix(p + "ffn_gate.weight", c.dim(), ff);
                up = s.matrix(p + "ffn_up.weight", c.dim(), ff);
                down = s.matrix(p + "ffn_down.weight", ff, c.dim());
            }
            int qDim = c.qDim();
            int kvDim = c.kvDim();
            float[] qNorm = null;
            float[] kNorm = null;
            switch (c.arch().qkNorm()) {
                case PER_HEAD -> {
                    qNorm = s.vector(p + "attn_q_norm.weight", c.headDim());
                    kNorm = s.vector(p + "attn_k_norm.weight", c.headDim());
                }
                case FULL -> {
                    qNorm = s.vector(p + "attn_q_norm.weight", qDim);
                    kNorm = s.vector(p + "attn_k_norm.weight", kvDim);
                }
                case NONE -> {
                }
            }
            LayerWeights.SharedExpert shared = null;
            if (c.sharedFeedForward() > 0 && c.isMoeLayer(l)) {
                int sff = c.sharedFeedForward();
                shared = new LayerWeights.SharedExpert(
                        s.optionalVector(p + "ffn_gate_inp_shexp.weight", c.dim()),
                        s.matrix(p + "ffn_gate_shexp.weight", c.dim(), sff),
                        s.matrix(p + "ffn_up_shexp.weight", c.dim(), sff),
                        s.matrix(p + "ffn_down_shexp.weight", sff, c.dim()));
            }
            boolean mla = c.latent() != null;
            layers[l] = new LayerWeights(
                    s.vector(p + "attn_norm.weight", c.dim()),
                    mla ? null : s.matrix(p + "attn_q.weight", c.dim(), qDim),
                    mla ? null : s.matrix(p + "attn_k.weight", c.dim(), kvDim),
                    mla ? null : s.matrix(p + "attn_v.weight", c.dim(), kvDim),
                    s.matrix(p + "attn_output.weight", c.attentionOutDim(), c.dim()),
                    s.optionalVector(p + "attn_q.bias", qDim),
                    s.optionalVector(p + "attn_k.bias", kvDim),
                    s.optionalVector(p + "attn_v.bias", kvDim),
                    s.optionalVector(p + "attn_output.bias", c.dim()),
                    qNorm, kNorm,
                    s.vector(p + c.arch().ffnNormName() + ".weight", c.dim()),
                    s.optionalVector(p + "attn_sinks.weight", c.heads()),
                    mla ? latentAttention(f, s, p, c) : null,
                    router, routerBias, scoring, expertBiases, gate, up, down, shared);
        }
        return new Model(f, c, embd, outNorm, out, layers, c.isMoe() ? new ExpertLayout(experts, c.experts()) : null);
    }

    /**
     * MLA weights. Files converted by llama.cpp since April 2025 store the latent's up-projection split per head as
     * attn_k_b ([nope x rank x heads], already in the orientation that absorbs a query) and attn_v_b ([rank x value x
     * heads]); ik_llama.cpp's converter stores the same split flattened to two dimensions beside the whole attn_kv_b,
     * and older files only the whole attn_kv_b (per head: nope key rows, then value rows, each kvLoraRank wide),
     * whose key half moed transposes once at load (F16 and BF16 stay so, other types become F32: 2 or 4 MiB per
     * layer for V2-Lite). The split form is used wherever it is present.
     */
    private static LayerWeights.LatentAttention latentAttention(GgufFile f, Shapes s, String p, ModelConfig c) {
        ModelConfig.LatentShape m = c.latent();
        int heads = c.heads();
        int rank = m.kvLoraRank();
        WeightMatrix q = null;
        WeightMatrix qA = null;
        WeightMatrix qB = null;
        float[] qANorm = null;
        if (f.tensor(p + "attn_q_a.weight") != null) {
            if (m.qLoraRank() <= 0) {
                throw new GgufFormatException(f.path(), 0, "tensor '" + p + "attn_q_a.weight' needs "
                        + c.architecture() + ".attention.q_lora_rank, which the file does not set");
            }
            qA = s.matrix(p + "attn_q_a.weight", c.dim(), m.qLoraRank());
            qANorm = s.vector(p + "attn_q_a_norm.weight", m.qLoraRank());
            qB = s.matrix(p + "attn_q_b.weight", m.qLoraRank(), c.qDim());
        } else {
            q = s.matrix(p + "attn_q.weight", c.dim(), c.qDim());
        }
        WeightMatrix kvA = s.matrix(p + "attn_kv_a_mqa.weight", c.dim(), m.cacheWidth());
        float[] kvANorm = s.vector(p + "attn_kv_a_norm.weight", rank);
        WeightMatrix[] keyAbsorb = new WeightMatrix[heads];
        WeightMatrix[] valueUp = new WeightMatrix[heads];
        if (f.tensor(p + "attn_k_b.weight") != null) {
            WeightMatrix kb = s.perHead(p + "attn_k_b.weight", m.nopeDim(), rank, heads);
            WeightMatrix vb = s.perHead(p + "attn_v_b.weight", rank, m.valueDim(), heads);
            for (int h = 0; h < heads; h++) {
                keyAbsorb[h] = kb.rows(h * rank, rank);
                valueUp[h] = vb.rows(h * m.valueDim(), m.valueDim());
            }
        } else {
            int per = m.nopeDim() + m.valueDim();
            WeightMatrix kvb = s.matrix(p + "attn_kv_b.weight", rank, heads * per);
            for (int h = 0; h < heads; h++) {
                valueUp[h] = kvb.rows(h * per + m.nopeDim(), m.valueDim());
                keyAbsorb[h] = transposed(kvb.rows(h * per, m.nopeDim()));
            }
        }
        return new LayerWeights.LatentAttention(q, qA, qANorm, qB, kvA, kvANorm, keyAbsorb, valueUp);
    }

    /**
     * A copy of a matrix, transposed: F16 and BF16 weights stay in their type (the values are exact, and the kernel
     * the split attn_k_b of the same model would meet is the one used), others become F32.
     */
    private static WeightMatrix transposed(WeightMatrix w) {
        GgmlType type = w.type() == GgmlType.F16 || w.type() == GgmlType.BF16 ? w.type() : GgmlType.F32;
        long size = type == GgmlType.F32 ? 4 : 2;
        java.lang.foreign.MemorySegment seg = java.lang.foreign.Arena.ofAuto().allocate((long) w.rows() * w.cols() * size, 64);
        float[] row = new float[w.cols()];
        for (int r = 0; r < w.rows(); r++) {
            w.dequantizeRow(r, row);
            for (int col = 0; col < w.cols(); col++) {
                long at = ((long) col * w.rows() + r) * size;
                switch (type) {
                    case F16 -> seg.set(moed.kernels.Bytes.LE_SHORT, at, Float.floatToFloat16(row[col]));
                    case BF16 -> seg.set(moed.kernels.Bytes.LE_SHORT, at, (short) (Float.floatToRawIntBits(row[col]) >>> 16));
                    default -> seg.set(moed.kernels.Bytes.LE_FLOAT, at, row[col]);
                }
            }
        }
        return WeightMatrix.of(type, seg, w.cols(), w.rows());
    }

    private static int expertHidden(GgufFile f, String p, ModelConfig c) {
        GgufTensor t = f.tensor(p + "ffn_gate_exps.weight");
        if (t == null) {
            if (f.tensor(p + "ffn_gate.0.weight") != null) {
                throw new GgufFormatException(f.path(), 0, "this file stores experts as separate tensors (ffn_gate.N); "
                        + "moed reads the stacked layout (ffn_gate_exps) that llama.cpp has written since 2024: re-convert it");
            }
            throw new GgufFormatException(f.path(), 0, "model has no tensor '" + p + "ffn_gate_exps.weight'");
        }
        return (int) t.dim(1);
    }

    /** Checks shapes and types while building views. */
    private record Shapes(GgufFile f) {
        WeightMatrix matrix(String name, int cols, int rows) {
            GgufTensor t = f.requireTensor(name);
            check(t, t.dims().length <= 2 && t.dim(0) == cols && t.dim(1) == rows, "[" + cols + " x " + rows + "]");
            computable(t);
            return t.asMatrix();
        }

        /** A [cols x rowsPerHead x heads] tensor as one matrix of heads x rowsPerHead rows. */
        /** A tensor of heads stacked [cols x rowsPerHead x heads], or flattened [cols x heads * rowsPerHead]. */
        WeightMatrix perHead(String name, int cols, int rowsPerHead, int heads) {
            GgufTensor t = f.requireTensor(name);
            boolean stacked = t.dims().length == 3 && t.dim(1) == rowsPerHead && t.dim(2) == heads;
            boolean flat = t.dims().length == 2 && t.dim(1) == (long) rowsPerHead * heads;
            check(t, t.dim(0) == cols && (stacked || flat), "[" + cols + " x " + rowsPerHead + " x " + heads + "] or ["
                    + cols + " x " + (long) rowsPerHead * heads + "]");
            computable(t);
            return t.asMatrix();
        }

        ExpertLayout.Stacked stacked(String name, int cols, int rowsPerExpert, int experts) {
            GgufTensor t = f.requireTensor(name);
            check(t, t.dims().length == 3 && t.dim(0) == cols && t.dim(1) == rowsPerExpert && t.dim(2) == experts,
                    "[" + cols + " x " + rowsPerExpert + " x " + experts + "]");
            computable(t);
            return new ExpertLayout.Stacked(t.type(), t.data(), f.dataOffset() + t.offset(), experts, rowsPerExpert, cols);
        }

        /** Biases and gates present in some files of an architecture and not others (as llama.cpp treats them). */
        float[] optionalVector(String name, int n) {
            return f.tensor(name) == null ? null : vector(name, n);
        }

        /** A [cols x rows] F32/F16 tensor as rows of floats (per-expert biases). */
        float[][] rows(String name, int cols, int rows) {
            GgufTensor t = f.requireTensor(name);
            check(t, t.dims().length == 2 && t.dim(0) == cols && t.dim(1) == rows, "[" + cols + " x " + rows + "]");
            computable(t);
            float[][] out = new float[rows][cols];
            for (int r = 0; r < rows; r++) {
                Dequantize.row(t.type(), t.data(), r * t.type().bytesFor(cols), out[r], 0, cols);
            }
            return out;
        }

        float[] vector(String name, int n) {
            GgufTensor t = f.requireTensor(name);
            check(t, t.elements() == n, "[" + n + "]");
            computable(t);
            float[] v = new float[n];
            Dequantize.row(t.type(), t.data(), 0, v, 0, n);
            return v;
        }

        private void check(GgufTensor t, boolean ok, String expected) {
            if (!ok) {
                throw new GgufFormatException(f.path(), 0, "tensor '" + t.name() + "' has shape " + t.shape()
                        + ", expected " + expected + " from the model's metadata");
            }
        }

        private void computable(GgufTensor t) {
            if (!Dequantize.supports(t.type())) {
                throw new GgufFormatException(f.path(), 0, "tensor '" + t.name() + "' has type " + t.type()
                        + ", which moed cannot compute yet; supported: " + Dequantize.supportedNames());
            }
        }
    }

    public GgufFile file() {
        return file;
    }

    public ModelConfig config() {
        return config;
    }

    public WeightMatrix tokenEmbedding() {
        return tokenEmbedding;
    }

    public float[] outputNorm() {
        return outputNorm;
    }

    public WeightMatrix output() {
        return output;
    }

    public LayerWeights layer(int l) {
        return layers[l];
    }

    /** The experts' layout, or null for a dense model. */
    public ExpertLayout expertLayout() {
        return expertLayout;
    }

    /**
     * Whether a tensor holds routed experts' weights, the bytes that go through the expert cache. Per-expert biases
     * (ffn_*_exps.bias, gpt-oss) are small and stay pinned with the router.
     */
    public static boolean isExpertTensor(String name) {
        return name.endsWith("_exps.weight");
    }

    /** The layer a tensor named {@code blk.N....} belongs to, or -1 for a tensor outside the layers. */
    public static int layerOf(String name) {
        if (!name.startsWith("blk.")) {
            return -1;
        }
        int dot = name.indexOf('.', 4);
        try {
            return Integer.parseInt(name.substring(4, dot < 0 ? name.length() : dot));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** Bytes of everything that is not an expert: what stays pinned resident. */
    public long pinnedBytes() {
        long n = 0;
        for (GgufTensor t : file.tensors().values()) {
            if (!isExpertTensor(t.name())) {
                n += t.byteSize();
            }
        }
        return n;
    }

    /**
     * The model's identity for persisted statistics: a hash of the file's header (metadata and tensor table)
     * and its size, so a re-quantized or different file never shares statistics, while a copy or a rename does.
     */
    public String identity() {
        try {
            java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
            md.update(file.segment().asSlice(0, file.dataOffset()).asByteBuffer());
            md.update(java.nio.ByteBuffer.allocate(8).putLong(0, file.fileSize()));
            return java.util.HexFormat.of().formatHex(md.digest(), 0, 8);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The type most of the weights are stored in (that of the first layer's attention output projection). */
    public GgmlType mainType() {
        return layers[0].wo().type();
    }
}
