package moed.tools.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import moed.runtime.Engine;
import moed.runtime.chat.ChatTemplate;
import picocli.CommandLine.Option;

/** {@code --chat-template}: a chat format for a model whose file has none, or to replace the file's. */
final class ChatTemplateOption {
    @Option(names = "--chat-template", paramLabel = "chatml|FILE", description = "format conversations with this template"
            + " instead of the file's tokenizer.chat_template: 'chatml', or a file of Jinja source (as in tokenizer_config.json)")
    String chatTemplate;

    /** Sets the template on the engine when one was given. */
    void apply(Engine e) throws IOException {
        if (chatTemplate == null) {
            return;
        }
        String source = chatTemplate;
        if (!chatTemplate.equals("chatml")) {
            Path p = Path.of(chatTemplate);
            if (!Files.isRegularFile(p)) {
                throw new IllegalArgumentException("--chat-template " + chatTemplate + ": neither 'chatml' nor a readable file");
            }
            source = Files.readString(p);
        }
        e.useChatTemplate(ChatTemplate.of(source, e.tokenizer().vocabulary()));
    }
}
