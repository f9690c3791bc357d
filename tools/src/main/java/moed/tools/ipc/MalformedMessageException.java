package moed.tools.ipc;

/** A message that cannot be decoded: truncated, of an unknown version, or with impossible fields. */
public class MalformedMessageException extends RuntimeException {
    public MalformedMessageException(String message) {
        super(message);
    }
}
