package moed.runtime;

/** Why a generation ended; {@link #toString()} is the name reports, recordings and the wire use. */
public enum StopReason {
    /** It produced the tokens asked for. */
    LENGTH("length"),
    /** The context filled before that. */
    CONTEXT("context"),
    /** The model chose an end-of-generation token. */
    EOS("eos"),
    /** The text reached one of the request's stop strings (not sent). */
    STOP("stop"),
    /** The caller's token listener asked to stop. */
    STOPPED("stopped"),
    /** The request was cancelled. */
    CANCELLED("cancelled"),
    /** The server shut down with the request in flight. */
    SHUTDOWN("shutdown"),
    /** A step it was part of failed (an expert that could not be loaded, say); the request got the error. */
    ERROR("error");

    private final String label;

    StopReason(String label) {
        this.label = label;
    }

    @Override
    public String toString() {
        return label;
    }
}
