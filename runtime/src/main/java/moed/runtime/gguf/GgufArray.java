package moed.runtime.gguf;

import java.util.List;

/** A metadata array: its element type and its values (boxed numbers, strings, or nested arrays). */
public record GgufArray(GgufValueType elementType, List<Object> values) {
    public int size() {
        return values.size();
    }
}
