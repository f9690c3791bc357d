package moed.runtime;

import org.junit.jupiter.api.BeforeAll;

/** Parity on the embedded Q8_0 model (always present). */
class Q8ReferenceParityTest extends ReferenceParity {
    @BeforeAll
    static void setUp() throws Exception {
        open(TestFiles.defaultModel(), "moed-tinymoe-16x4-q8_0.gguf", 0.03f);
    }
}
