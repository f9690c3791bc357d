package moed.runtime.gguf;

import java.lang.foreign.MemorySegment;
import moed.kernels.GgmlType;
import moed.kernels.WeightMatrix;

/**
 * A tensor of a GGUF file as a typed view of the mapped bytes (no copy). {@code dims} are in GGUF order:
 * dims[0] is the contiguous (row) length, as ggml's ne[0].
 */
public record GgufTensor(String name, GgmlType type, long[] dims, long offset, long byteSize, MemorySegment data) {

    public long elements() {
        long n = 1;
        for (long d : dims) {
            n *= d;
        }
        return n;
    }

    public long dim(int i) {
        return i < dims.length ? dims[i] : 1;
    }

    /** Viewed as a matrix of rows of dims[0] weights (all higher dims folded into rows). */
    public WeightMatrix asMatrix() {
        long rows = elements() / dims[0];
        return WeightMatrix.of(type, data, Math.toIntExact(rows), Math.toIntExact(dims[0]));
    }

    public String shape() {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < dims.length; i++) {
            sb.append(i == 0 ? "" : " x ").append(dims[i]);
        }
        return sb.append(']').toString();
    }
}
