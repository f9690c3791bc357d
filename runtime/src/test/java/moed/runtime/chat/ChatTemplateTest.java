package moed.runtime.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import moed.kernels.GgmlType;
import moed.runtime.Engine;
import moed.runtime.model.Architecture;
import moed.runtime.model.SyntheticModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A conversation through a model file's own chat template into token ids, as {@code moed run --chat} does it. */
class ChatTemplateTest {
    @TempDir
    Path dir;

    @Test
    void shouldFormatAConversationWithTheFilesTemplateAndParseItsSpecialTokens() throws Exception {
        Path file = dir.resolve("q.gguf");
        SyntheticModel.write(new SyntheticModel.Spec(Architecture.QWEN3MOE, 1, 64, 2, 1, 0, 4, 2, 64, 0, 600, GgmlType.F32, null, 0, 3, 256),
                file, (d, t) -> { });
        try (Engine e = Engine.open(file, 1, 256, 8)) {
            var turns = List.of(new ChatTemplate.Message("system", "Be brief."), new ChatTemplate.Message("user", "Hi <|im_end|>"));
            var v = e.tokenizer().vocabulary();
            String text = ChatTemplate.of(e.file(), v).render(turns, true);
            assertEquals("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi <|im_end|><|im_end|>\n<|im_start|>assistant\n", text);
            int[] ids = e.encodeChat(turns);
            int start = idOf(v, "<|im_start|>");
            int end = idOf(v, "<|im_end|>");
            // ChatML's markers become single control tokens: three turn openers (system, user, the assistant's) and
            // three closers, since text inside a rendered template is parsed for special tokens (as llama.cpp and
            // transformers both tokenize a rendered template).
            assertEquals(start, ids[0]);
            assertEquals(3, count(ids, start));
            assertEquals(3, count(ids, end));
        }
    }

    private static int idOf(moed.runtime.tokenizer.Vocabulary v, String token) {
        for (int i = 0; i < v.size(); i++) {
            if (v.token(i).equals(token)) {
                return i;
            }
        }
        throw new AssertionError(token + " is not in the vocabulary");
    }

    private static long count(int[] ids, int id) {
        return java.util.Arrays.stream(ids).filter(x -> x == id).count();
    }

    @Test
    void shouldRefuseChatWithAModelThatHasNoTemplate() throws Exception {
        Path file = dir.resolve("l.gguf");
        SyntheticModel.write(new SyntheticModel.Spec(1, 64, 2, 1, 4, 2, 64, 400, GgmlType.F32, 3, 256), file, (d, t) -> { });
        try (Engine e = Engine.open(file, 1, 256, 8)) {
            var err = assertThrows(IllegalArgumentException.class, () -> e.encodeChat(List.of(new ChatTemplate.Message("user", "Hi"))));
            assertTrue(err.getMessage().contains("has no tokenizer.chat_template"), err.getMessage());
        }
    }
}
