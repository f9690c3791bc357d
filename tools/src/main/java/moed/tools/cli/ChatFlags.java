package moed.tools.cli;

import java.util.ArrayList;
import java.util.List;
import moed.runtime.chat.ChatTemplate;
import picocli.CommandLine.Option;

/** {@code --chat [--system S]}, shared by run and submit: the prompt as a user turn of a conversation. */
final class ChatFlags {
    @Option(names = "--chat", description = "format the prompt as a user turn with the model's chat template (tokenizer.chat_template) "
            + "and print only the assistant's reply")
    boolean chat;

    @Option(names = "--system", description = "with --chat: a system message before the user's")
    String system;

    /** Refuses --system without --chat, before anything is opened or sent. */
    void check() {
        if (system != null && !chat) {
            throw new IllegalArgumentException("--system needs --chat");
        }
    }

    /** The conversation: the system message, if any, then {@code prompt} as the user's. */
    List<ChatTemplate.Message> conversation(String prompt) {
        List<ChatTemplate.Message> turns = new ArrayList<>();
        if (system != null) {
            turns.add(new ChatTemplate.Message("system", system));
        }
        turns.add(new ChatTemplate.Message("user", prompt));
        return turns;
    }
}
