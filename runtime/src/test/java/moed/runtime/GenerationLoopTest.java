package moed.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import moed.runtime.gguf.GgufFile;
import moed.runtime.sampling.SamplerConfig;
import moed.runtime.tokenizer.Tokenizer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The per-sequence loop shared by solo generation and the batch scheduler, driven with logits that force a known
 * token sequence: each stop reason, stop strings cut exactly (never sent, even in part), and the text sent adds up.
 */
class GenerationLoopTest {
    static Tokenizer tokenizer;
    static int vocab;
    static int[] script;

    @BeforeAll
    static void load() throws Exception {
        try (GgufFile f = GgufFile.open(TestFiles.defaultModel())) {
            tokenizer = Tokenizer.from(f);
            vocab = tokenizer.vocabulary().size();
        }
        script = tokenizer.encode("The old king looked at the sea and said nothing at all.", false);
    }

    /** What a listener was sent. */
    static final class Sent implements TokenListener {
        final StringBuilder text = new StringBuilder();
        final List<Integer> ids = new ArrayList<>();
        int stopAfter = Integer.MAX_VALUE;

        @Override
        public boolean onToken(int id, String piece) {
            ids.add(id);
            text.append(piece);
            return ids.size() < stopAfter;
        }
    }

    static float[] oneHot(int id) {
        float[] logits = new float[vocab];
        logits[id] = 10f;
        return logits;
    }

    /** Feeds the script (then end-of-sequence) until the loop stops; returns why. */
    static StopReason drive(GenerationLoop g) {
        StopReason r = g.stopsAtOnce();
        for (int i = 0; r == null; i++) {
            r = g.next(oneHot(i < script.length ? script[i] : tokenizer.vocabulary().eos()));
            if (r == null) {
                assertEquals(script[i], g.lastToken(), "the token the next step runs");
            }
        }
        g.finish(r);
        return r;
    }

    static GenerationLoop loop(int maxTokens, int room, List<String> stops, TokenListener l) {
        return new GenerationLoop(tokenizer, vocab, SamplerConfig.GREEDY, new int[] {1}, maxTokens, room, stops, l);
    }

    @Test
    void endsAtEndOfSequenceWithTheWholeTextSent() {
        Sent sent = new Sent();
        GenerationLoop g = loop(1000, 1000, List.of(), sent);
        assertEquals(StopReason.EOS, drive(g));
        assertEquals(script.length + 1, g.produced(), "the end-of-sequence token counts as produced");
        assertEquals(g.text(), sent.text.toString());
        assertTrue(g.text().contains("looked at the sea"), g.text());
        assertFalse(sent.ids.contains(tokenizer.vocabulary().eos()), "the end-of-sequence token is not sent");
    }

    @Test
    void cutsAtTheFirstStopStringAndNeverSendsAnyOfIt() {
        Sent whole = new Sent();
        drive(loop(1000, 1000, List.of(), whole));
        String full = whole.text.toString();
        for (String stop : List.of("the sea", "nothing", "e", "all.")) {
            Sent sent = new Sent();
            GenerationLoop g = loop(1000, 1000, List.of("zzz", stop), sent);
            assertEquals(StopReason.STOP, drive(g), stop);
            assertEquals(full.substring(0, full.indexOf(stop)), sent.text.toString(), stop);
            assertEquals(sent.text.toString(), g.text());
        }
    }

    @Test
    void holdsBackATailThatMayBecomeAStopString() {
        Sent whole = new Sent();
        drive(loop(1000, 1000, List.of(), whole));
        String full = whole.text.toString();
        // A stop string that starts like the text's end but never completes: held back, then sent at the end.
        String stop = full.substring(full.length() - 3) + "never";
        Sent sent = new Sent();
        assertEquals(StopReason.EOS, drive(loop(1000, 1000, List.of(stop), sent)));
        assertEquals(full, sent.text.toString());
        assertEquals(-1, sent.ids.get(sent.ids.size() - 1), "the held-back tail goes out with id -1 at the end");
    }

    @Test
    void tellsTheTokenLimitFromAFullContext() {
        GenerationLoop length = loop(3, 100, List.of(), null);
        assertEquals(StopReason.LENGTH, drive(length));
        assertEquals(3, length.produced());
        GenerationLoop context = loop(3, 2, List.of(), null);
        assertEquals(StopReason.CONTEXT, drive(context));
        assertEquals(2, context.produced());
        assertEquals(StopReason.LENGTH, loop(0, 100, List.of(), null).stopsAtOnce());
        assertEquals(StopReason.CONTEXT, loop(5, 0, List.of(), null).stopsAtOnce());
        assertNull(loop(1, 1, List.of(), null).stopsAtOnce());
    }

    @Test
    void stopsWhenTheListenerSaysSo() {
        Sent sent = new Sent();
        sent.stopAfter = 2;
        GenerationLoop g = loop(1000, 1000, List.of(), sent);
        assertEquals(StopReason.STOPPED, drive(g));
        assertEquals(2, g.produced());
        assertEquals(2, sent.ids.size(), "nothing is sent after the listener said stop");
    }
}
