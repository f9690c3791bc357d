package moed.kernels;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Weight rows stored sixteen at a time with their blocks interleaved, so that one vector load gives the same piece of
 * sixteen rows (ik_llama.cpp's {@code _R4}/{@code _R8} types do the same for its kernels), and decode's mat-vec reads
 * rows as vector lanes: {@link InterleavedQ4K}, {@link InterleavedQ5K}, {@link InterleavedQ2K}, {@link InterleavedQ3K},
 * {@link InterleavedQ6K}, {@link InterleavedIQ4XS}, {@link InterleavedQ4_0} and {@link InterleavedQ8_0} are the kernels, this class the layout.
 *
 * <p>A group of {@link #GROUP} rows occupies the bytes its rows would (so a group starts at
 * {@code g * GROUP * rowBytes} and an expert's slice of a stacked tensor stays where it was); within it, block b of
 * the sixteen rows is one run of {@code 16 * blockBytes} bytes, its rows' bytes rearranged by the format's
 * permutation ({@link #position}). A matrix says which layout it has ({@link WeightMatrix#interleaved}); a row of an
 * interleaved one is gathered back for the rare per-row reader.
 */
public final class Interleaved {
    /** Rows per group. */
    public static final int GROUP = 16;
    /**
     * Whether a model's matrices are interleaved at load where it pays ({@link #copyIfWorthwhile}, {@link #inPlace}): on
     * unless {@code -Dmoed.kernels.interleave=false}, which reads every matrix where it lies in the file.
     */
    public static final boolean ENABLED = !"false".equals(System.getProperty("moed.kernels.interleave"));
    /** Per format (by ordinal): byte j of row c's block goes to {@code PERMUTATION[c * blockBytes + j]} of the run. */
    private static final int[][] PERMUTATION = new int[GgmlType.values().length][];
    /** Per format: the permutation as moves of whole ints, shorts and single bytes ({@link Moves}). */
    private static final Moves[] MOVES = new Moves[GgmlType.values().length];
    /** Ints and shorts read from and written into byte arrays at any offset, little-endian. */
    private static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle SHORT = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);
    /** Per thread: a group's rows and its run being assembled ({@link #interleaveGroups}). */
    private static final ThreadLocal<byte[][]> BUFFERS = ThreadLocal.withInitial(() -> new byte[2][0]);
    /** Per thread: one row gathered back into ggml's layout. */
    private static final ThreadLocal<MemorySegment[]> ROW = ThreadLocal.withInitial(() -> new MemorySegment[1]);

    static {
        for (GgmlType t : new GgmlType[] {GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q6_K, GgmlType.Q8_0, GgmlType.Q4_0,
                GgmlType.IQ4_XS}) {
            int[] p = new int[GROUP * t.blockBytes];
            for (int c = 0; c < GROUP; c++) {
                for (int j = 0; j < t.blockBytes; j++) {
                    p[c * t.blockBytes + j] = position(t, c, j);
                }
            }
            PERMUTATION[t.ordinal()] = p;
            MOVES[t.ordinal()] = new Moves(p, t.blockBytes);
        }
    }

    private Interleaved() {
    }

    /**
     * Where byte j of row c's block lies in the group's run. The K-quants: the block's whole ints int-major (int i of row
     * c at {@code (slot(i) * 16 + c) * 4}, where {@link #slot} is the order its kernel reads them in), then, where the
     * block is not whole ints (Q3_K's 110 bytes, Q6_K's 210), the sixteen rows' last two bytes, their d (row c's at
     * {@code ints * 64 + 2c}). Q4_0: the sixteen d first (row c's at {@code 2c}), then per pair of the per-row kernel's
     * lanes one int of each row ({@link InterleavedQ4_0}). Q8_0: the sixteen halves d first (row c's at {@code 2c}), then
     * per lane i of the per-row kernel (which sums the products of weights 2i, 2i + 1, 16 + 2i, 17 + 2i, see
     * {@link Block32Dots#q8_0}) 64 bytes: the sixteen rows' weights (2i, 16 + 2i) as byte pairs, then their
     * (2i + 1, 17 + 2i), so that one sign-extending widening of 32 bytes gives each row's int lane the two weights that
     * face one activation pair.
     */
    private static int position(GgmlType t, int c, int j) {
        if (t == GgmlType.Q4_0) {
            return j < 2 ? 2 * c + j : 2 * GROUP + (j - 2) / 4 * 4 * GROUP + 4 * c + (j - 2) % 4;
        }
        if (t != GgmlType.Q8_0) {
            int ints = t.blockBytes / 4;
            return j >= 4 * ints ? 4 * ints * GROUP + 2 * c + j - 4 * ints : (slot(t, j / 4) * GROUP + c) * 4 + j % 4;
        }
        if (j < 2) {
            return 2 * c + j;
        }
        int q = j - 2;
        int i = (q % 16) / 2;
        return 2 * GROUP + i * 4 * GROUP + (q % 2) * 2 * GROUP + 2 * c + q / 16;
    }

    /**
     * Where a K-quant block's int i goes among its ints in the run: the order its kernel reads them in, so that the run
     * is read front to back ({@link InterleavedQ3K#slot}, {@link InterleavedQ6K#slot}); the file's order for the others.
     */
    private static int slot(GgmlType t, int i) {
        return t == GgmlType.Q3_K ? InterleavedQ3K.slot(i) : t == GgmlType.Q6_K ? InterleavedQ6K.slot(i) : i;
    }

    /** True when a matrix of this type and row count can be interleaved (and a kernel reads it). */
    public static boolean fits(GgmlType t, int rows) {
        return PERMUTATION[t.ordinal()] != null && rows % GROUP == 0 && rows > 0;
    }

    /**
     * True when interleaving this matrix pays: it fits, the vector kernels run (the scalar twin reads rows) and, for
     * Q8_0, they are 512 bits wide. Measured (two threads, a 256 MiB matrix): Q8_0 at 512 bits 10.3 -> 12.0-13.0 GB/s,
     * at 256 bits 11.2-11.7 -> 8.9-9.0 (eight rows a vector: each group is read in two passes, and the per-row kernel's
     * four interleaved runs of rows stream better), so Q8_0 stays row by row there. The others gain at both widths
     * (two threads, 200 expert-shaped matrices, alternated in one JVM, 512 / 256 bits): Q4_0 4.98 -> 13.01 / 5.96 ->
     * 7.78 GB/s; Q6_K 6.6 -> 10.9 / 3.9 -> 4.9; Q2_K 3.2 -> 5.4 / 3.2 -> 4.1 (at 256 bits only since its d is read
     * last: before, 2.9-3.8 both ways); Q3_K 2.6 -> 5.5 / 2.3 -> 4.4; Q4_K 4.4-5.7 -> 7.3-9.1 / 3.5-4.2 -> 5.9-6.4;
     * IQ4_XS 4.5 -> 8.8 / 3.7 -> 5.6 (3.0 -> 4.1 with the JIT held to AVX2).
     */
    public static boolean worthwhile(GgmlType t, int rows) {
        return fits(t, rows) && Dot.VECTOR && Dot.F.length() <= GROUP && (t != GgmlType.Q8_0 || Dot.F.length() == GROUP);
    }

    /** True when a matrix of this type and row count is interleaved at load: {@link #ENABLED} and {@link #worthwhile}. */
    public static boolean applies(GgmlType t, int rows) {
        return ENABLED && worthwhile(t, rows);
    }

    /**
     * m interleaved into a copy of its own where {@link #applies} and the JVM lets moed allocate the copy
     * ({@link NativeMemory#hasRoomFor}); m itself otherwise. The copy takes m's bytes again in memory (a mapped file's
     * pages stay page cache the system may reclaim).
     */
    public static WeightMatrix copyIfWorthwhile(WeightMatrix m) {
        if (m == null || m.interleaved() || !applies(m.type(), m.rows()) || !NativeMemory.hasRoomFor(m.byteSize())) {
            return m;
        }
        return interleave(m, Arena.ofAuto().allocate(m.byteSize(), 64));
    }

    /**
     * m interleaved where its bytes lie (an expert cache's slot: the same bytes, rearranged) where {@link #applies} and
     * {@link #paysInPlace}; m itself otherwise.
     */
    public static WeightMatrix inPlace(WeightMatrix m) {
        if (m.interleaved() || !applies(m.type(), m.rows()) || !paysInPlace(m.type())) {
            return m;
        }
        // Each group is copied out before its run is written back (interleaveGroups), so the same bytes can be both.
        return interleave(m, m.data());
    }

    /**
     * True when rearranging a cached expert of this type on the loader thread pays for itself within the few uses an
     * expert gets between its load and its eviction when the model does not fit (2.6 on the qwen3moe Q8_0 file in a
     * 5 GiB cgroup, 61% of accesses hitting a 3 GiB cache; 7.6 on the Q2_K file at 87%). The loader shares the cores
     * with compute. Measured per format (rearranging one 768 x 2048 matrix in place on one thread, against the
     * mat-vec's gain on two): Q8_0 rearranges at 0.8-1.3 GB/s, its single bytes the slowest case, and gains only 14.6
     * -> 19.6 GB/s, about 45 uses to pay back (23 if the loader took half of the compute's two cores). Beyond RAM it was
     * a loss: the Q8_0 file in its cgroup decoded 2.42 tokens/s with cached experts rearranged, 4.08 without (stalls
     * 254 against 114 ms a token). Q4_K, Q3_K and Q4_0 pay back in 3-5 uses, Q6_K and Q2_K in about 10 (5 if halved).
     */
    static boolean paysInPlace(GgmlType t) {
        return t != GgmlType.Q8_0;
    }

    /**
     * Writes m's rows (row-major) into {@code dst} at byte 0 in the interleaved layout; returns the matrix over it. A
     * large matrix is rearranged by the common pool's threads, groups apart (a cold path: a model's start).
     */
    public static WeightMatrix interleave(WeightMatrix m, MemorySegment dst) {
        if (m.interleaved() || !fits(m.type(), m.rows())) {
            throw new IllegalArgumentException("cannot interleave a " + m.rows() + "-row " + m.type()
                    + (m.interleaved() ? " matrix twice" : " matrix"));
        }
        int groups = m.rows() / GROUP;
        int perTask = 32;
        if (groups >= 2 * perTask) {
            java.util.stream.IntStream.range(0, (groups + perTask - 1) / perTask).parallel()
                    .forEach(k -> interleaveGroups(m, dst, k * perTask, Math.min(groups, (k + 1) * perTask)));
        } else {
            interleaveGroups(m, dst, 0, groups);
        }
        return new WeightMatrix(m.type(), dst.asSlice(0, m.byteSize()), m.rows(), m.cols(), m.rowBytes(), true);
    }

    /**
     * Groups g0..g1-1 of m into dst (which may be m's own bytes): a group's rows copied out, each block's run assembled
     * by the format's {@link Moves}, copied back. Why whole ints where the permutation keeps four bytes together (the
     * K-quants' int-major runs, Q4_0's pairs of lanes): a cached expert is rearranged on the loader thread, which shares
     * the cores with compute, and moving shorts (or bytes) through a per-element index ran at about 1.1 GB/s, 26 ms of
     * CPU a token for the qwen3moe Q2_K file beyond RAM. Now (one 768 x 2048 matrix in place, one thread): Q4_K 0.77 ->
     * 0.32 ms, Q6_K 1.19 -> 0.47, Q3_K 0.64 -> 0.24-0.33, Q2_K 0.48 -> 0.16, Q8_0 (bytes) 3.5 -> 2.0.
     */
    private static void interleaveGroups(WeightMatrix m, MemorySegment dst, int g0, int g1) {
        Moves mv = MOVES[m.type().ordinal()];
        int bb = m.type().blockBytes;
        int blocks = m.cols() / m.type().blockSize;
        int rowBytes = (int) m.rowBytes();
        int length = GROUP * rowBytes;
        byte[][] buffers = BUFFERS.get();
        if (buffers[0].length < length) {
            buffers[0] = new byte[length];
            buffers[1] = new byte[length];
        }
        byte[] rows = buffers[0];
        byte[] out = buffers[1];
        int[] intFrom = mv.from(mv.intRow, mv.intOffset, rowBytes);
        int[] shortFrom = mv.from(mv.shortRow, mv.shortOffset, rowBytes);
        int[] byteFrom = mv.from(mv.byteRow, mv.byteOffset, rowBytes);
        int[] lowFrom = mv.from(mv.pairRow, mv.pairOffset, rowBytes);
        int[] highFrom = mv.from(mv.pairRow1, mv.pairOffset1, rowBytes);
        for (int g = g0; g < g1; g++) {
            long groupOff = (long) g * length;
            MemorySegment.copy(m.data(), ValueLayout.JAVA_BYTE, groupOff, rows, 0, length);
            for (int b = 0; b < blocks; b++) {
                int run = b * GROUP * bb;
                int block = b * bb;
                for (int k = 0; k < intFrom.length; k++) {
                    INT.set(out, run + mv.intTo[k], (int) INT.get(rows, block + intFrom[k]));
                }
                for (int k = 0; k < shortFrom.length; k++) {
                    SHORT.set(out, run + mv.shortTo[k], (short) SHORT.get(rows, block + shortFrom[k]));
                }
                for (int k = 0; k < lowFrom.length; k++) {
                    SHORT.set(out, run + mv.pairTo[k], (short) ((rows[block + lowFrom[k]] & 0xFF) | rows[block + highFrom[k]] << 8));
                }
                for (int k = 0; k < byteFrom.length; k++) {
                    out[run + mv.byteTo[k]] = rows[block + byteFrom[k]];
                }
            }
            MemorySegment.copy(out, 0, dst, ValueLayout.JAVA_BYTE, groupOff, length);
        }
    }

    /**
     * A format's permutation ({@link #PERMUTATION}) as moves of whole ints, shorts and bytes: bytes j..j+3 of row c's
     * block move together where they land side by side at a multiple of four in the run, else pairs where they land
     * side by side at an even place, else single bytes; two single bytes that land side by side at an even place (Q8_0's
     * byte pairs, which split a row's neighbouring bytes) are put together and written as one short.
     */
    private static final class Moves {
        final int[] intRow, intOffset, intTo;
        final int[] shortRow, shortOffset, shortTo;
        final int[] byteRow, byteOffset, byteTo;
        /** Two single bytes that land side by side at an even place: the low one's row and offset, the high one's. */
        final int[] pairRow, pairOffset, pairRow1, pairOffset1, pairTo;

        Moves(int[] p, int bb) {
            java.util.List<int[]> ints = new java.util.ArrayList<>();
            java.util.List<int[]> shorts = new java.util.ArrayList<>();
            java.util.List<int[]> bytes = new java.util.ArrayList<>();
            for (int c = 0; c < GROUP; c++) {
                int j = 0;
                while (j < bb) {
                    int to = p[c * bb + j];
                    if (j + 4 <= bb && to % 4 == 0 && together(p, c * bb + j, 4)) {
                        ints.add(new int[] {c, j, to});
                        j += 4;
                    } else if (j + 2 <= bb && to % 2 == 0 && together(p, c * bb + j, 2)) {
                        shorts.add(new int[] {c, j, to});
                        j += 2;
                    } else {
                        bytes.add(new int[] {c, j, to});
                        j++;
                    }
                }
            }
            // Single bytes landing side by side at an even place (Q8_0's byte pairs) move as one short, put together.
            java.util.Map<Integer, int[]> byDest = new java.util.HashMap<>();
            for (int[] b : bytes) {
                byDest.put(b[2], b);
            }
            java.util.List<int[]> pairs = new java.util.ArrayList<>();
            java.util.List<int[]> singles = new java.util.ArrayList<>();
            for (int[] b : bytes) {
                int[] high = byDest.get(b[2] + 1);
                if (b[2] % 2 == 0 && high != null) {
                    pairs.add(new int[] {b[0], b[1], high[0], high[1], b[2]});
                } else if (b[2] % 2 == 0 || byDest.get(b[2] - 1) == null) {
                    singles.add(b);
                }
            }
            bytes = singles;
            pairRow = column(pairs, 0);
            pairOffset = column(pairs, 1);
            pairRow1 = column(pairs, 2);
            pairOffset1 = column(pairs, 3);
            pairTo = column(pairs, 4);
            intRow = column(ints, 0);
            intOffset = column(ints, 1);
            intTo = column(ints, 2);
            shortRow = column(shorts, 0);
            shortOffset = column(shorts, 1);
            shortTo = column(shorts, 2);
            byteRow = column(bytes, 0);
            byteOffset = column(bytes, 1);
            byteTo = column(bytes, 2);
        }

        private static boolean together(int[] p, int at, int n) {
            for (int k = 1; k < n; k++) {
                if (p[at + k] != p[at] + k) {
                    return false;
                }
            }
            return true;
        }

        private static int[] column(java.util.List<int[]> moves, int i) {
            return moves.stream().mapToInt(a -> a[i]).toArray();
        }

        /** Where each move reads in a group's rows (row-major, rowBytes apart), for block 0. */
        int[] from(int[] row, int[] offset, int rowBytes) {
            int[] f = new int[row.length];
            for (int k = 0; k < f.length; k++) {
                f[k] = row[k] * rowBytes + offset[k];
            }
            return f;
        }
    }

    /** Row r of an interleaved matrix gathered back into ggml's layout, in a per-thread segment at byte 0. */
    static MemorySegment row(WeightMatrix m, int r) {
        MemorySegment[] holder = ROW.get();
        if (holder[0] == null || holder[0].byteSize() < m.rowBytes()) {
            holder[0] = Arena.ofAuto().allocate(m.rowBytes(), 8);
        }
        MemorySegment dst = holder[0];
        int bb = m.type().blockBytes;
        int[] p = PERMUTATION[m.type().ordinal()];
        long groupOff = (long) (r / GROUP) * GROUP * m.rowBytes();
        int c = r % GROUP;
        for (int b = 0; b < m.cols() / m.type().blockSize; b++) {
            long run = groupOff + (long) b * GROUP * bb;
            for (int j = 0; j < bb; j++) {
                dst.set(ValueLayout.JAVA_BYTE, (long) b * bb + j, m.data().get(ValueLayout.JAVA_BYTE, run + p[c * bb + j]));
            }
        }
        return dst;
    }

    /**
     * Rows {@code group * GROUP ..} of interleaved m against one activation (prepared in {@link #activation}'s form)
     * into {@code out[o..o + GROUP)}, bit-identical to the per-row kernel.
     */
    static void dot(WeightMatrix m, int group, Activation a, float[] out, int o) {
        switch (m.type()) {
            case Q4_K -> InterleavedQ4K.dot(m, group, a, out, o);
            case Q2_K -> InterleavedQ2K.dot(m, group, a, out, o);
            case Q3_K -> dotByHalves(m, group, a, out, o, InterleavedQ3K::half);
            case Q6_K -> dotByHalves(m, group, a, out, o, InterleavedQ6K::half);
            case Q4_0 -> InterleavedQ4_0.dot(m, group, a, out, o);
            case Q5_K -> InterleavedQ5K.dot(m, group, a, out, o);
            case IQ4_XS -> InterleavedIQ4XS.dot(m, group, a, out, o);
            default -> InterleavedQ8_0.dot(m, group, a, out, o);
        }
    }

    /**
     * Two groups against one activation, as {@link #dot} computes each, their blocks read alternately: two streams
     * from memory instead of one. One core reading a single stream front to back keeps too few lines in flight (the
     * hardware prefetcher follows each stream only so far ahead); with the two halves of a thread's rows side by side,
     * a Q4_K mat-vec of an expert's shape (1024 x 2048) ran 4% faster on one thread and 9% on two at 512 bits, alternated
     * in one JVM ({@link MatMat} uses it for decode's single token). At 256 bits it measured no different (two threads
     * 6.33 / 6.20, 6.16 / 6.16, 6.49 / 6.47 GB/s): there a group's super-block is already two vectors' reads, so only
     * where a vector holds the whole group ({@link #hasTwoGroupKernel}).
     */
    static void dotTwo(WeightMatrix m, int group0, int group1, Activation a, float[] out, int o0, int o1) {
        InterleavedQ4K.dotTwo(m, group0, group1, a, out, o0, o1);
    }

    /** Four tokens against one group, each as {@link #dot} computes it (the weights unpacked once for the four). */
    static void dot4(WeightMatrix m, int group, Activation a0, Activation a1, Activation a2, Activation a3,
                     float[] t0, float[] t1, float[] t2, float[] t3, int o) {
        InterleavedQ4K.dot4(m, group, a0, a1, a2, a3, t0, t1, t2, t3, o);
    }

    static boolean hasFourTokenKernel(GgmlType t) {
        return t == GgmlType.Q4_K;
    }

    static boolean hasTwoGroupKernel(GgmlType t) {
        return t == GgmlType.Q4_K && Dot.L == GROUP;
    }

    /**
     * Halves (the low 16 bits of each int lane; the high ones are never read, so no mask is needed) as floats, exactly as
     * {@link Float#float16ToFloat} converts them (the Vector API has no half conversion): exponent and mantissa moved
     * into place and scaled by 2^112 (exact, subnormals included), all-ones exponents kept as infinities and NaNs, the
     * sign put back. For the blocks' scales of a group, read as one vector of {@link Dot#F}'s shape. ({@link InterleavedQ8_0#dot} writes it
     * out: in that long kernel a call would not be inlined.)
     */
    static FloatVector halvesToFloats(IntVector h) {
        IntVector bits = h.and(0x7FFF).lanewise(VectorOperators.LSHL, 13);
        FloatVector f = ((FloatVector) bits.reinterpretAsFloats()).mul(0x1p112f)
                .blend(bits.or(0x7F800000).reinterpretAsFloats(), h.and(0x7FFF).compare(VectorOperators.GE, 0x7C00).cast(Dot.F));
        return f.reinterpretAsInts().or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
    }

    /**
     * Half n (sub-blocks 8n..8n+7) of a K-quant super-block of Dot.F-length rows (their ints at {@code base + i * 64}):
     * each sub-block's integer dot times its scale, added to {@code sums[0..)} ({@link InterleavedQ3K#half},
     * {@link InterleavedQ6K#half}). Two halves a super-block: one whole was past C2's inlining budget.
     */
    interface Half {
        void add(MemorySegment s, long base, Activation a, int b, int n, int[] sums);
    }

    /** Per thread: a super-block's integer sums of Dot.F-length rows ({@link #dotByHalves}). */
    private static final ThreadLocal<int[]> SUMS = ThreadLocal.withInitial(() -> new int[GROUP]);

    /**
     * {@link #dot} for the K-quants whose kernels go by halves and whose run ends in the rows' d (Q3_K, Q6_K: their
     * blocks are not whole ints, {@link #position}): per super-block and Dot.F-length rows, the two halves' integer
     * sums, then their d (read last, where they lie in the run) times the activation's scale times the sums, the per-row
     * kernels' {@code d * da * sum} lane for lane, added to {@code out[o..)}.
     */
    static void dotByHalves(WeightMatrix m, int group, Activation a, float[] out, int o, Half half) {
        MemorySegment s = m.data();
        int bb = m.type().blockBytes;
        long groupOff = (long) group * GROUP * m.rowBytes();
        long halves = bb / 4 * 4L * GROUP;
        int vl = Dot.F.length();
        int[] sums = SUMS.get();
        java.util.Arrays.fill(out, o, o + GROUP, 0f);
        for (int b = 0; b < m.cols() / 256; b++) {
            long run = groupOff + (long) b * GROUP * bb;
            for (int v = 0; v < GROUP / vl; v++) {
                long base = run + v * vl * 4L;
                IntVector.zero(I_ROWS).intoArray(sums, 0);
                half.add(s, base, a, b, 0, sums);
                half.add(s, base, a, b, 1, sums);
                addTerm(s, run + halves + v * vl * 2L, a.q8kScale[b], sums, out, o + v * vl);
            }
        }
    }

    /** {@link #dotByHalves}'s float step (arrays in and out, so that nothing is boxed if this is not inlined). */
    private static void addTerm(MemorySegment s, long halves, float da, int[] sums, float[] total, int o) {
        IntVector sum = IntVector.fromArray(I_ROWS, sums, 0);
        FloatVector d = halvesToFloats((IntVector) ShortVector.fromMemorySegment(HALF_ROWS, s, halves, ByteOrder.LITTLE_ENDIAN)
                .convertShape(VectorOperators.S2I, I_ROWS, 0));
        FloatVector term = d.mul(da).mul((FloatVector) sum.convert(VectorOperators.I2F, 0));
        FloatVector.fromArray(Dot.F, total, o).add(term).intoArray(total, o);
    }

    private static final jdk.incubator.vector.VectorSpecies<Integer> I_ROWS = IntVector.SPECIES_MAX.withShape(Dot.F.vectorShape());
    /** Dot.F-length halves: a super-block's d of that many rows. */
    private static final jdk.incubator.vector.VectorSpecies<Short> HALF_ROWS =
            ShortVector.SPECIES_MAX.withShape(jdk.incubator.vector.VectorShape.forBitSize(Dot.F.length() * 16));

    /** The activation form the interleaved kernel of type t reads. */
    static Activation.Form activation(GgmlType t) {
        return t == GgmlType.Q8_0 ? Activation.Form.Q8_0_PAIRS : t == GgmlType.Q4_0 ? Activation.Form.Q4_0_PAIRS
                : Activation.Form.Q8_K_PAIRS;
    }
}
