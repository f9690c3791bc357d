package moed.runtime.eval;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import moed.runtime.Engine;
import moed.runtime.StepPhase;
import moed.runtime.config.Setting;
import moed.runtime.config.SettingException;
import moed.runtime.model.InferenceState;

/**
 * Perplexity as llama.cpp's perplexity tool computes it, so the figures compare: the whole text is tokenized once
 * (with BOS when the vocabulary adds one), cut into non-overlapping chunks of {@code ctx} tokens; each chunk is
 * evaluated from an empty cache with its first token replaced by BOS, and only the second half is scored: positions
 * ctx/2 .. ctx-2 each predict the next token. PPL = exp(mean negative log-likelihood), with llama.cpp's error estimate.
 *
 * <p>Optionally saves each scored position's log-probabilities (F16) so a later run can report its KL divergence
 * from this one and how often both pick the same top token.
 */
public final class Perplexity {
    private static final long MAGIC = 0x4D4F45444C475431L; // "MOEDLGT1"

    /** Called after each chunk with the running estimate. */
    @FunctionalInterface
    public interface Progress {
        void chunk(int done, int total, double runningPpl);
    }

    /** KL divergence from a base run and top-1 agreement, over every scored position. */
    public record Kl(double mean, double median, double p99, double top1Agreement, double basePpl) {
    }

    public record Result(double ppl, double error, int chunks, int ctx, long scored, long tokens, double seconds, Kl kl) {
    }

    private Perplexity() {
    }

    public static Result run(Engine e, String text, int ctx, int maxChunks, Path saveLogits, Path klBase, Progress progress)
            throws IOException {
        if (ctx < 8) {
            throw new SettingException(Setting.CONTEXT_LENGTH, "perplexity needs a context length of at least 8 tokens, got " + ctx);
        }
        if (ctx > e.contextLength()) {
            throw new SettingException(Setting.CONTEXT_LENGTH, "a perplexity context length of " + ctx + " exceeds the engine's "
                    + e.contextLength());
        }
        var vocabulary = e.tokenizer().vocabulary();
        boolean addBos = vocabulary.addBos();
        int[] tokens = e.tokenizer().encode(text, addBos);
        int available = tokens.length / ctx;
        if (available < 1 || tokens.length < 2 * ctx) {
            throw new SettingException(Setting.CONTEXT_LENGTH, "the text is " + tokens.length + " tokens; perplexity with a context length of "
                    + ctx + " needs at least " + 2 * ctx + " (give more text or a smaller context length)");
        }
        int chunks = maxChunks > 0 ? Math.min(maxChunks, available) : available;
        int vocab = e.model().config().vocab();
        int first = ctx / 2;
        int perChunk = ctx - 1 - first;

        DataOutputStream save = saveLogits == null ? null : new DataOutputStream(
                new java.io.BufferedOutputStream(Files.newOutputStream(saveLogits), 1 << 20));
        DataInputStream base = klBase == null ? null : new DataInputStream(
                new java.io.BufferedInputStream(Files.newInputStream(klBase), 1 << 20));
        try {
            if (save != null) {
                writeHeader(save, vocab, ctx, chunks, Arrays.copyOf(tokens, chunks * ctx));
            }
            if (base != null) {
                checkHeader(base, klBase, vocab, ctx, chunks, Arrays.copyOf(tokens, chunks * ctx));
            }
            float[] kls = base != null ? new float[chunks * perChunk] : null;
            long agree = 0;
            double baseNll = 0;
            double nll = 0;
            double nll2 = 0;
            long count = 0;
            double[] logp = new double[vocab];
            double[] baseLogp = new double[vocab];
            InferenceState s = e.newState();
            int batch = s.batch();
            int[] chunkTokens = new int[ctx];
            long t0 = System.nanoTime();
            for (int c = 0; c < chunks; c++) {
                int start = c * ctx;
                System.arraycopy(tokens, start, chunkTokens, 0, ctx);
                if (addBos) {
                    chunkTokens[0] = vocabulary.bos();
                }
                s.reset();
                for (int off = 0; off < ctx; off += batch) {
                    int n = Math.min(batch, ctx - off);
                    // Logits only where they are scored: positions first .. ctx-2.
                    int from = Math.max(0, first - off);
                    boolean any = off + n - 1 >= first && off <= ctx - 2;
                    e.step(s, chunkTokens, off, n, any ? from : -1, StepPhase.PREFILL);
                    if (!any) {
                        continue;
                    }
                    for (int i = from; i < n; i++) {
                        int j = off + i;
                        if (j > ctx - 2) {
                            break;
                        }
                        logSoftmax(s.logits(i), vocab, logp);
                        double x = -logp[tokens[start + j + 1]];
                        nll += x;
                        nll2 += x * x;
                        if (save != null) {
                            for (int v = 0; v < vocab; v++) {
                                save.writeShort(Float.floatToFloat16((float) logp[v]));
                            }
                        }
                        if (base != null) {
                            double kl = 0;
                            int topBase = 0;
                            int topHere = 0;
                            for (int v = 0; v < vocab; v++) {
                                baseLogp[v] = Float.float16ToFloat(base.readShort());
                                if (baseLogp[v] > baseLogp[topBase]) {
                                    topBase = v;
                                }
                                if (logp[v] > logp[topHere]) {
                                    topHere = v;
                                }
                            }
                            for (int v = 0; v < vocab; v++) {
                                double pb = Math.exp(baseLogp[v]);
                                kl += pb * (baseLogp[v] - logp[v]);
                            }
                            kls[(int) count] = (float) Math.max(kl, 0);
                            agree += topBase == topHere ? 1 : 0;
                            baseNll -= baseLogp[tokens[start + j + 1]];
                        }
                        count++;
                    }
                }
                if (progress != null) {
                    progress.chunk(c + 1, chunks, Math.exp(nll / count));
                }
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            double mean = nll / count;
            double var = nll2 / count - mean * mean;
            double ppl = Math.exp(mean);
            double error = var > 0 ? Math.sqrt(var / (count - 1)) * ppl : Double.NaN;
            Kl kl = null;
            if (kls != null) {
                float[] sorted = Arrays.copyOf(kls, (int) count);
                Arrays.sort(sorted);
                double sum = 0;
                for (float v : sorted) {
                    sum += v;
                }
                kl = new Kl(sum / count, sorted[sorted.length / 2], sorted[(int) Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))],
                        agree / (double) count, Math.exp(baseNll / count));
            }
            return new Result(ppl, error, chunks, ctx, count, (long) chunks * ctx, seconds, kl);
        } finally {
            if (save != null) {
                save.close();
            }
            if (base != null) {
                base.close();
            }
        }
    }

    /** log-softmax in double, as llama.cpp's perplexity tool computes it (max-subtracted). */
    static void logSoftmax(float[] logits, int n, double[] out) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, logits[i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += Math.exp(logits[i] - max);
        }
        double log = Math.log(sum);
        for (int i = 0; i < n; i++) {
            out[i] = logits[i] - max - log;
        }
    }

    private static void writeHeader(DataOutputStream out, int vocab, int ctx, int chunks, int[] tokens) throws IOException {
        out.writeLong(MAGIC);
        out.writeInt(vocab);
        out.writeInt(ctx);
        out.writeInt(chunks);
        for (int t : tokens) {
            out.writeInt(t);
        }
    }

    private static void checkHeader(DataInputStream in, Path file, int vocab, int ctx, int chunks, int[] tokens) throws IOException {
        try {
            if (in.readLong() != MAGIC) {
                throw new IllegalArgumentException(file + " is not a logits file from 'moed perplexity --save-logits'");
            }
            int v = in.readInt();
            int c = in.readInt();
            int n = in.readInt();
            if (v != vocab || c != ctx) {
                throw new SettingException(Setting.CONTEXT_LENGTH, file + " was saved with vocabulary " + v + " and context length " + c
                        + "; this run has " + vocab + " and context length " + ctx);
            }
            if (n < chunks) {
                throw new SettingException(Setting.PERPLEXITY_CHUNKS, file + " holds " + n + " chunks; this run needs " + chunks
                        + " (evaluate at most " + n + " chunks)");
            }
            for (int i = 0; i < n * ctx; i++) {
                int t = in.readInt();
                if (i < tokens.length && t != tokens[i]) {
                    throw new IllegalArgumentException(file + " was saved over different text (token " + i + " differs)");
                }
            }
        } catch (java.io.EOFException e) {
            throw new IllegalArgumentException(file + " is truncated");
        }
    }
}
