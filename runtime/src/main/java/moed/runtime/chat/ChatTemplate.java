package moed.runtime.chat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import moed.runtime.gguf.GgufFile;
import moed.runtime.tokenizer.Vocabulary;

/**
 * A model's chat format: the Jinja template in {@code tokenizer.chat_template}, rendered as transformers'
 * apply_chat_template renders it (messages, add_generation_prompt, bos_token, eos_token). The result is text with
 * the format's special tokens spelt out; it is tokenized with special tokens parsed.
 */
public final class ChatTemplate {
    /** One turn of a conversation. */
    public record Message(String role, String content) {
    }

    private final JinjaTemplate template;
    private final String bosToken;
    private final String eosToken;

    public ChatTemplate(String source, String bosToken, String eosToken) {
        this.template = JinjaTemplate.parse(source);
        this.bosToken = bosToken;
        this.eosToken = eosToken;
    }

    /**
     * ChatML, the format llama.cpp's server falls back to for a model without a template: each turn as
     * {@code <|im_start|>role\ncontent<|im_end|>\n}. A base model never trained on it reads the markers as text.
     */
    public static final String CHATML = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content']"
            + " + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /** The roles a conversation's turns may have (the ones chat templates are written for). */
    public static final List<String> ROLES = List.of("system", "user", "assistant");

    /** A template given by the user: a known name ("chatml") or Jinja source. */
    public static ChatTemplate of(String nameOrSource, Vocabulary v) {
        return parse(nameOrSource.equals("chatml") ? CHATML : nameOrSource, v, "the chat template");
    }

    /** The file's template, or a clear error when it has none. */
    public static ChatTemplate of(GgufFile f, Vocabulary v) {
        if (!f.has("tokenizer.chat_template")) {
            throw new IllegalArgumentException(f.path().getFileName() + " has no tokenizer.chat_template: it carries no chat "
                    + "format, so it cannot be used as a chat (give the prompt as plain text instead)");
        }
        return parse(f.getString("tokenizer.chat_template"), v, f.path().getFileName() + ": its chat template");
    }

    /** Jinja source with the vocabulary's BOS and EOS tokens as the template's bos_token and eos_token. */
    private static ChatTemplate parse(String source, Vocabulary v, String what) {
        String bos = v.bos() >= 0 && v.bos() < v.size() ? v.token(v.bos()) : "";
        String eos = v.eos() >= 0 && v.eos() < v.size() ? v.token(v.eos()) : "";
        try {
            return new ChatTemplate(source, bos, eos);
        } catch (JinjaException e) {
            throw new IllegalArgumentException(what + " cannot be read: " + e.getMessage(), e);
        }
    }

    /** The conversation as the model expects to read it, ending where the assistant's reply begins. */
    public String render(List<Message> messages, boolean addGenerationPrompt) {
        List<Object> msgs = new ArrayList<>();
        for (Message m : messages) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("role", m.role());
            o.put("content", m.content());
            msgs.add(o);
        }
        Map<String, Object> vars = new HashMap<>();
        vars.put("messages", msgs);
        vars.put("add_generation_prompt", addGenerationPrompt);
        vars.put("bos_token", bosToken);
        vars.put("eos_token", eosToken);
        return template.render(vars);
    }

    public String bosToken() {
        return bosToken;
    }
}
