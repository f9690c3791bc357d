package moed.kernels;

import java.lang.foreign.MemorySegment;

/**
 * A weight matrix of {@code rows} rows of {@code cols} weights in ggml's block format, read in place from
 * {@code data} (usually a slice of a memory-mapped GGUF file). Row-major as in the file (row r starts at
 * {@code r * rowBytes}), or, when {@code interleaved}, in {@link Interleaved}'s layout: groups of sixteen rows,
 * each group where its rows would be, its rows' blocks interleaved int by int (same bytes in all).
 */
public record WeightMatrix(GgmlType type, MemorySegment data, int rows, int cols, long rowBytes, boolean interleaved) {

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
        if (interleaved && !Interleaved.fits(type, rows)) {
            throw new IllegalArgumentException("a " + rows + "-row " + type + " matrix cannot be interleaved");
        }
    }

    public static WeightMatrix of(GgmlType type, MemorySegment data, int rows, int cols) {
        return new WeightMatrix(type, data, rows, cols, type.bytesFor(cols), false);
    }

    public long byteSize() {
        return rowBytes * rows;
    }

    /**
     * Rows {@code from..from+count) as a matrix of their own (an expert's slice of a stacked tensor, say); of an
     * interleaved matrix, whole groups only.
     */
    public WeightMatrix rows(int from, int count) {
        if (interleaved && (from % Interleaved.GROUP != 0 || count % Interleaved.GROUP != 0)) {
            throw new IllegalArgumentException("rows " + from + ".." + (from + count) + " split a group of "
                    + Interleaved.GROUP + " interleaved rows");
        }
        return new WeightMatrix(type, data.asSlice(from * rowBytes, count * rowBytes), count, cols, rowBytes, interleaved);
    }

    /** Dequantizes row r into dst[0..cols). */
    public void dequantizeRow(int r, float[] dst) {
        if (interleaved) {
            Dequantize.row(type, Interleaved.row(this, r), 0, dst, 0, cols);
        } else {
            Dequantize.row(type, data, r * rowBytes, dst, 0, cols);
        }
    }
}
