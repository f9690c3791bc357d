package moed.runtime;

/** Streamed output: each token as it is chosen, with the text it completes (possibly empty). */
@FunctionalInterface
public interface TokenListener {
    /**
     * {@code id} is the token, or -1 for the detokenizer's last characters sent when generation ends. Return false to
     * stop generation.
     */
    boolean onToken(int id, String text);
}
