package moed.jfr.read;

import java.io.IOException;

/** Something that can play moed's events to a visitor, as many times as asked: a recording file or a list in memory. */
@FunctionalInterface
public interface EventSource {
    void scan(EventVisitor visitor) throws IOException;
}
