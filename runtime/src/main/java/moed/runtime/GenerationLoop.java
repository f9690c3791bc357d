package moed.runtime;

import java.util.List;
import moed.runtime.sampling.Sampler;
import moed.runtime.sampling.SamplerConfig;
import moed.runtime.tokenizer.StreamingDecoder;
import moed.runtime.tokenizer.Tokenizer;

/**
 * The per-sequence half of generation, shared by a solo {@link Engine#generate} and the batch scheduler: after
 * each forward step, choose the next token from its logits, detokenize it, send the text that is safe to send, and
 * say whether and why the sequence stops (end of generation, a stop string, the listener, the token limit, the
 * context). The caller runs the steps. Stop strings are never sent: text that could still become one is held back.
 */
public final class GenerationLoop {
    private final Sampler sampler;
    private final StreamingDecoder decoder;
    private final Tokenizer tokenizer;
    private final int vocab;
    private final List<String> stops;
    private final TokenListener listener;
    private final int maxTokens;
    private final int limit;
    private final int[] tokens;
    private final StringBuilder text = new StringBuilder();
    private int produced;
    private int emitted; // chars of text already sent
    private boolean cut;  // a stop string ended the text

    /**
     * A generation of up to {@code maxTokens} tokens after {@code prompt}, with {@code room} positions left in the
     * context, stopping before the first of {@code stops}; text goes to {@code listener} (null: nowhere).
     */
    public GenerationLoop(Tokenizer tokenizer, int vocab, SamplerConfig cfg, int[] prompt, int maxTokens, int room,
                          List<String> stops, TokenListener listener) {
        this.sampler = new Sampler(cfg, vocab);
        for (int id : prompt) {
            sampler.accept(id);
        }
        this.decoder = new StreamingDecoder(tokenizer);
        this.tokenizer = tokenizer;
        this.vocab = vocab;
        this.stops = List.copyOf(stops);
        this.listener = listener;
        this.maxTokens = maxTokens;
        this.limit = Math.max(0, Math.min(maxTokens, room));
        this.tokens = new int[limit];
    }

    /** Why the generation stops before choosing any token (nothing asked for, or no room), or null. */
    public StopReason stopsAtOnce() {
        return limit == 0 ? limitReason() : null;
    }

    /**
     * Chooses the next token from the logits of the sequence's last position and sends its text; returns why the
     * generation stops, or null to run {@link #lastToken()} through the next step.
     */
    public StopReason next(float[] logits) {
        int next = sampler.sample(logits, vocab);
        tokens[produced++] = next;
        sampler.accept(next);
        if (tokenizer.vocabulary().isEndOfGeneration(next)) {
            return StopReason.EOS;
        }
        text.append(decoder.accept(next));
        int upTo = sendable();
        String piece = upTo > emitted ? text.substring(emitted, upTo) : "";
        emitted = Math.max(emitted, upTo);
        if (listener != null && !listener.onToken(next, piece)) {
            return StopReason.STOPPED;
        }
        if (cut) {
            return StopReason.STOP;
        }
        return produced >= limit ? limitReason() : null;
    }

    /** The end of the text that may be sent: before the first stop string, and before a tail that may become one. */
    private int sendable() {
        int at = firstStop();
        if (at >= 0) {
            cut = true;
            text.setLength(at);
            return at;
        }
        int upTo = text.length();
        for (String stop : stops) {
            for (int len = Math.min(stop.length() - 1, text.length() - emitted); len > 0; len--) {
                if (tailIs(stop, len)) {
                    upTo = Math.min(upTo, text.length() - len);
                    break;
                }
            }
        }
        return upTo;
    }

    /** Where the first stop string begins in the text not yet sent (a stop may start in its held-back tail), or -1. */
    private int firstStop() {
        int at = -1;
        for (String stop : stops) {
            int i = text.indexOf(stop, Math.max(0, emitted - stop.length() + 1));
            if (i >= 0 && (at < 0 || i < at)) {
                at = i;
            }
        }
        return at;
    }

    /** Whether the text ends with the first len characters of stop. */
    private boolean tailIs(String stop, int len) {
        int from = text.length() - len;
        for (int i = 0; i < len; i++) {
            if (text.charAt(from + i) != stop.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    private StopReason limitReason() {
        return limit < maxTokens ? StopReason.CONTEXT : StopReason.LENGTH;
    }

    /** The token the next step runs: the one just chosen. */
    public int lastToken() {
        return tokens[produced - 1];
    }

    /**
     * Ends the generation: unless a stop string cut the text (or the listener stopped it), the detokenizer's last
     * characters and any held-back text are sent with token id -1.
     */
    public void finish(StopReason reason) {
        if (reason == StopReason.STOP || cut) {
            return;
        }
        text.append(decoder.finish());
        // The last characters may complete a stop string whose start was held back: it is not sent either.
        int stop = firstStop();
        if (stop >= 0) {
            text.setLength(stop);
        }
        if (text.length() > emitted) {
            String rest = text.substring(emitted);
            emitted = text.length();
            if (listener != null && reason != StopReason.STOPPED) {
                listener.onToken(-1, rest);
            }
        }
    }

    /** Tokens chosen so far (an end-of-generation token included). */
    public int produced() {
        return produced;
    }

    public int[] tokens() {
        return java.util.Arrays.copyOf(tokens, produced);
    }

    /** The generated text so far (cut before a stop string). */
    public String text() {
        return text.toString();
    }
}
