package moed.kernels;

import java.lang.foreign.MemorySegment;

/**
 * A row-major weight matrix of {@code rows} rows of {@code cols} weights in ggml's block format, read in place
 * from {@code data} (usually a slice of a memory-mapped GGUF file). Row r starts at {@code r * rowBytes}.
 */
public record WeightMatrix(GgmlType type, MemorySegment data, int rows, int cols, long rowBytes) {

    public WeightMatrix {
        if (cols % type.blockSize != 0) {
            throw new IllegalArgumentException(type + " rows must hold whole blocks of " + type.blockSize
                    + " weights; row length is " + cols);
        }
        if (rowBytes != type.bytesFor(cols)) {
            throw new IllegalArgumentException("row stride " + rowBytes + " does not match " + cols + " " + type + " weights");
        }
        if (data.byteSize() < rowBytes * rows) {
            throw new IllegalArgumentException("matrix " + rows + "x" + cols + " " + type + " needs " + rowBytes * rows
                    + " bytes, segment has " + data.byteSize());
        }
    }

    public static WeightMatrix of(GgmlType type, MemorySegment data, int rows, int cols) {
        return new WeightMatrix(type, data, rows, cols, type.bytesFor(cols));
    }

    public long byteSize() {
        return rowBytes * rows;
    }

    /** Rows {@code from..from+count) as a matrix of their own (an expert's slice of a stacked tensor, say). */
    public WeightMatrix rows(int from, int count) {
        return new WeightMatrix(type, data.asSlice(from * rowBytes, count * rowBytes), count, cols, rowBytes);
    }

    /** Dequantizes row r into dst[0..cols). */
    public void dequantizeRow(int r, float[] dst) {
        Dequantize.row(type, data, r * rowBytes, dst, 0, cols);
    }
}
