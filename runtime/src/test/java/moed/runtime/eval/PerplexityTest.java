package moed.runtime.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import moed.runtime.Engine;
import moed.runtime.TestFiles;
import moed.runtime.model.InferenceState;
import moed.runtime.model.RoutingOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Perplexity by llama.cpp's method, checked against a token-by-token computation; KL against itself is zero. */
class PerplexityTest {
    static final String TEXT = ("It is a truth universally acknowledged, that a single man in possession of a good fortune, "
            + "must be in want of a wife. However little known the feelings or views of such a man may be on his first "
            + "entering a neighbourhood, this truth is so well fixed in the minds of the surrounding families, that he is "
            + "considered the rightful property of some one or other of their daughters. ").repeat(4);

    @TempDir
    Path dir;

    @Test
    void matchesAnIndependentTokenByTokenComputation() throws Exception {
        int ctx = 32;
        try (Engine e = Engine.open(TestFiles.defaultModel(), 2, 64, 8)) {
            Perplexity.Result r = Perplexity.run(e, TEXT, ctx, 3, null, null, null);
            assertEquals(3, r.chunks());
            assertEquals(3 * (ctx - 1 - ctx / 2), r.scored());
            // The same definition, written out: each chunk from an empty cache, BOS first, one token per step.
            int[] tokens = e.tokenizer().encode(TEXT, true);
            int vocab = e.model().config().vocab();
            double nll = 0;
            int count = 0;
            double[] logp = new double[vocab];
            for (int c = 0; c < 3; c++) {
                InferenceState s = e.newState();
                int[] one = new int[1];
                for (int j = 0; j < ctx - 1; j++) {
                    one[0] = j == 0 ? e.tokenizer().vocabulary().bos() : tokens[c * ctx + j];
                    e.transformer().forward(s, one, 0, 1, 0);
                    if (j >= ctx / 2) {
                        Perplexity.logSoftmax(s.logits(0), vocab, logp);
                        nll -= logp[tokens[c * ctx + j + 1]];
                        count++;
                    }
                }
            }
            assertEquals(Math.exp(nll / count), r.ppl(), 1e-6 * r.ppl());
            assertTrue(r.ppl() > 1 && r.ppl() < 2048, "a trained model beats uniform: " + r.ppl());
        }
    }

    @Test
    void klAgainstItselfIsZeroAndAgainstFewerExpertsIsNot() throws Exception {
        Path base = dir.resolve("base.logits");
        try (Engine e = Engine.open(TestFiles.defaultModel(), 2, 64, 8)) {
            Perplexity.Result full = Perplexity.run(e, TEXT, 32, 4, base, null, null);
            assertTrue(Files.size(base) > 4L * 15 * 2048 * 2);
            Perplexity.Result same = Perplexity.run(e, TEXT, 32, 4, null, base, null);
            assertEquals(full.ppl(), same.ppl(), 0);
            assertEquals(1.0, same.kl().top1Agreement(), 0);
            assertTrue(same.kl().mean() < 1e-3, "only F16 rounding of the saved log-probs: " + same.kl().mean());
            assertEquals(full.ppl(), same.kl().basePpl(), 0.01 * full.ppl());
            e.routing(RoutingOptions.ser("1,1", RoutingOptions.DEFAULT));
            Perplexity.Result one = Perplexity.run(e, TEXT, 32, 4, null, base, null);
            assertTrue(one.kl().mean() > 10 * same.kl().mean(), "one expert instead of four changes the distribution");
            assertTrue(one.kl().top1Agreement() < 1.0);
            var wrongCtx = assertThrows(IllegalArgumentException.class, () -> Perplexity.run(e, TEXT, 16, 4, null, base, null));
            assertTrue(wrongCtx.getMessage().contains("context length 32"), wrongCtx.getMessage());
        }
    }
}
