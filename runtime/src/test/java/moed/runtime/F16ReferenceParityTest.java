package moed.runtime;

import org.junit.jupiter.api.BeforeAll;

/** Parity on the F16 model, which lives in ../shared only (skipped with a message when absent). */
class F16ReferenceParityTest extends ReferenceParity {
    @BeforeAll
    static void setUp() throws Exception {
        open(TestFiles.shared("models/moed-tinymoe-16x4-f16.gguf"), "moed-tinymoe-16x4-f16.gguf", 0.01f);
    }
}
