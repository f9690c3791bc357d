package moed.kernels;

/**
 * Every ggml tensor type by its GGUF id, with its block geometry. Types whose kernels do not exist yet are
 * still known here, so a reader can describe any file and say precisely which type it cannot compute; those moed
 * computes have a {@link BlockFormat} ({@link #format}).
 *
 * <p>Sizes follow the block structs of ggml's {@code ggml-common.h}.
 */
public enum GgmlType {
    F32(0, 1, 4),
    F16(1, 1, 2),
    Q4_0(2, 32, 18),
    Q4_1(3, 32, 20),
    Q5_0(6, 32, 22),
    Q5_1(7, 32, 24),
    Q8_0(8, 32, 34),
    Q8_1(9, 32, 36),
    Q2_K(10, 256, 84),
    Q3_K(11, 256, 110),
    Q4_K(12, 256, 144),
    Q5_K(13, 256, 176),
    Q6_K(14, 256, 210),
    Q8_K(15, 256, 292),
    IQ2_XXS(16, 256, 66),
    IQ2_XS(17, 256, 74),
    IQ3_XXS(18, 256, 98),
    IQ1_S(19, 256, 50),
    IQ4_NL(20, 32, 18),
    IQ3_S(21, 256, 110),
    IQ2_S(22, 256, 82),
    IQ4_XS(23, 256, 136),
    I8(24, 1, 1),
    I16(25, 1, 2),
    I32(26, 1, 4),
    I64(27, 1, 8),
    F64(28, 1, 8),
    IQ1_M(29, 256, 56),
    BF16(30, 1, 2),
    TQ1_0(34, 256, 54),
    TQ2_0(35, 256, 66),
    MXFP4(39, 32, 17);

    private static final GgmlType[] BY_ID = new GgmlType[64];

    static {
        for (GgmlType t : values()) {
            BY_ID[t.id] = t;
        }
    }

    /** The type id stored in GGUF tensor infos. */
    public final int id;
    /** Number of weights in one block. */
    public final int blockSize;
    /** Number of bytes in one block. */
    public final int blockBytes;

    GgmlType(int id, int blockSize, int blockBytes) {
        this.id = id;
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
    }

    /** The type with this GGUF id, or null when the id is unknown to moed. */
    public static GgmlType byId(int id) {
        return id >= 0 && id < BY_ID.length ? BY_ID[id] : null;
    }

    /** The type named as ggml names it (case-insensitive), or null. */
    public static GgmlType byName(String name) {
        for (GgmlType t : values()) {
            if (t.name().equalsIgnoreCase(name)) {
                return t;
            }
        }
        return null;
    }

    /** Bytes taken by {@code elements} weights; the count must be a whole number of blocks. */
    public long bytesFor(long elements) {
        if (elements % blockSize != 0) {
            throw new IllegalArgumentException(name() + " stores blocks of " + blockSize
                    + " weights; " + elements + " is not a multiple");
        }
        return elements / blockSize * blockBytes;
    }

    /** The type's nominal size in bits per weight: a block's bits over its weights (IQ2_XXS: 66 x 8 / 256 = 2.0625). */
    public double bitsPerWeight() {
        return blockBytes * 8.0 / blockSize;
    }

    /** True when moed can dequantize (and therefore compute with) this type: it has a {@link BlockFormat}. */
    public boolean isComputable() {
        return BlockFormat.find(this) != null;
    }

    /** The format that computes this type; for a type moed only recognises, the error that says which it computes. */
    BlockFormat format() {
        BlockFormat f = BlockFormat.find(this);
        if (f == null) {
            throw new Dequantize.UnsupportedTypeException(this);
        }
        return f;
    }

    /** True for the types whose block holds 256 weights (the "K" and IQ families). */
    public boolean isSuperBlock() {
        return blockSize == 256;
    }
}
