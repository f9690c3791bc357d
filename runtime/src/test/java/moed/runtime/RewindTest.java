package moed.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import moed.runtime.model.InferenceState;
import org.junit.jupiter.api.Test;

/** InferenceState.rewind keeps the first positions of the KV cache: continuing from there equals never having left. */
class RewindTest {
    @Test
    void shouldContinueFromARewoundPositionAsFromAFreshPrefill() throws Exception {
        int[] prompt = {1, 450, 2030, 3999, 373, 278, 7205, 322, 1497};
        try (Engine e = Engine.open(TestFiles.defaultModel(), 2, 128, 16)) {
            int vocab = e.model().config().vocab();
            for (int i = 0; i < prompt.length; i++) {
                prompt[i] %= vocab;
            }
            InferenceState fresh = e.newState();
            float[] expected = fresh.logits(e.prefill(fresh, prompt)).clone();

            InferenceState rewound = e.newState();
            int[] other = prompt.clone();
            for (int i = 5; i < other.length; i++) {
                other[i] = (other[i] + 17) % vocab; // a different continuation, to be forgotten
            }
            e.prefill(rewound, other);
            rewound.rewind(5);
            assertEquals(5, rewound.position());
            int last = e.prefill(rewound, java.util.Arrays.copyOfRange(prompt, 5, prompt.length));
            // Exactly equal although the prompt went through in other batches (9 rows, then 4): every kernel gives
            // a row the same result whatever else is batched with it.
            assertArrayEquals(expected, rewound.logits(last), "logits after rewinding and feeding the real continuation");

            assertThrows(IllegalArgumentException.class, () -> rewound.rewind(prompt.length + 1));
            assertThrows(IllegalArgumentException.class, () -> rewound.rewind(-1));
        }
    }
}
