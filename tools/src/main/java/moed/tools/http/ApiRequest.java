package moed.tools.http;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import moed.runtime.chat.ChatTemplate;
import moed.runtime.sampling.SamplerConfig;
import moed.runtime.serve.BatchScheduler;

/**
 * An OpenAI completion request, read and checked: what to continue (a conversation for {@code /v1/chat/completions},
 * text for {@code /v1/completions}), the sampling parameters and how to reply. Every refusal names the field.
 * Fields moed does not use (user, metadata, ...) are ignored, as OpenAI-compatible servers do; fields that would
 * change the answer in a way moed cannot honour (n > 1, logprobs, penalties) are refused rather than ignored.
 */
record ApiRequest(BatchScheduler.Prompt prompt, BatchScheduler.Params params, boolean stream, boolean includeUsage) {
    /** OpenAI's limit on stop strings. */
    static final int MAX_STOPS = 4;

    /** OpenAI's legacy completions endpoint generates 16 tokens unless told otherwise. */
    static final int COMPLETIONS_DEFAULT_MAX_TOKENS = 16;

    static ApiRequest chat(JsonNode body) {
        requireObject(body);
        JsonNode messages = body.get("messages");
        if (messages == null || messages.isNull()) {
            throw ApiError.invalid("messages", "'messages' is required: a list of {role, content} turns");
        }
        if (!messages.isArray()) {
            throw ApiError.invalid("messages", "'messages' must be a list of {role, content} turns, got " + kind(messages));
        }
        if (messages.isEmpty()) {
            throw ApiError.invalid("messages", "'messages' is empty: give at least one turn");
        }
        List<ChatTemplate.Message> turns = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            turns.add(message(messages.get(i), "messages[" + i + "]"));
        }
        int maxTokens = maxTokens(body, Integer.MAX_VALUE);
        return new ApiRequest(new BatchScheduler.Prompt.Chat(turns), params(body, maxTokens), stream(body), includeUsage(body));
    }

    static ApiRequest completion(JsonNode body) {
        requireObject(body);
        JsonNode p = body.get("prompt");
        String text;
        if (p == null || p.isNull()) {
            throw ApiError.invalid("prompt", "'prompt' is required: the text to continue");
        } else if (p.isTextual()) {
            text = p.asText();
        } else if (p.isArray() && p.size() == 1 && p.get(0).isTextual()) {
            text = p.get(0).asText();
        } else if (p.isArray() && p.size() > 1) {
            throw ApiError.unsupported("prompt", "one prompt per request: 'prompt' has " + p.size() + " entries");
        } else {
            throw ApiError.invalid("prompt", "'prompt' must be a string, got " + kind(p));
        }
        if (text.isEmpty()) {
            throw ApiError.invalid("prompt", "'prompt' is empty: give some text to continue");
        }
        JsonNode echo = body.get("echo");
        if (echo != null && echo.asBoolean(false)) {
            throw ApiError.unsupported("echo", "'echo' is not supported");
        }
        int maxTokens = maxTokens(body, COMPLETIONS_DEFAULT_MAX_TOKENS);
        return new ApiRequest(new BatchScheduler.Prompt.Text(text), params(body, maxTokens), stream(body), includeUsage(body));
    }

    private static void requireObject(JsonNode body) {
        if (body == null || !body.isObject()) {
            throw ApiError.invalid(null, "the body must be a JSON object, got " + kind(body));
        }
    }

    private static ChatTemplate.Message message(JsonNode m, String where) {
        if (m == null || !m.isObject()) {
            throw ApiError.invalid(where, where + " must be an object {role, content}, got " + kind(m));
        }
        JsonNode r = m.get("role");
        if (r == null || !r.isTextual()) {
            throw ApiError.invalid(where + ".role", where + ".role is required: system, user or assistant");
        }
        // OpenAI renamed system to developer for its newer models.
        String role = r.asText().equals("developer") ? "system" : r.asText();
        if (!ChatTemplate.ROLES.contains(role)) {
            throw ApiError.invalid(where + ".role", where + ".role '" + r.asText()
                    + "' is not one moed knows: system (or developer), user or assistant");
        }
        JsonNode c = m.get("content");
        String content;
        if (c == null || c.isNull()) {
            throw ApiError.invalid(where + ".content", where + ".content is required");
        } else if (c.isTextual()) {
            content = c.asText();
        } else if (c.isArray()) {
            StringBuilder b = new StringBuilder();
            for (int j = 0; j < c.size(); j++) {
                JsonNode part = c.get(j);
                String at = where + ".content[" + j + "]";
                if (!part.isObject() || !"text".equals(part.path("type").asText()) || !part.path("text").isTextual()) {
                    throw ApiError.unsupported(at, at + " must be a text part {\"type\": \"text\", \"text\": ...}: "
                            + "this model reads text only");
                }
                b.append(part.get("text").asText());
            }
            content = b.toString();
        } else {
            throw ApiError.invalid(where + ".content", where + ".content must be a string or a list of text parts, got " + kind(c));
        }
        if (content.isEmpty() && !role.equals("assistant")) {
            throw ApiError.invalid(where + ".content", where + ".content is empty");
        }
        return new ChatTemplate.Message(role, content);
    }

    private static int maxTokens(JsonNode body, int otherwise) {
        JsonNode n = body.has("max_completion_tokens") ? body.get("max_completion_tokens") : body.get("max_tokens");
        String name = body.has("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
        if (n == null || n.isNull()) {
            return otherwise;
        }
        if (!n.isIntegralNumber() || !n.canConvertToInt() || n.asInt() < 1) {
            throw ApiError.invalid(name, "'" + name + "' must be a whole number >= 1, got " + n);
        }
        return n.asInt();
    }

    private static BatchScheduler.Params params(JsonNode body, int maxTokens) {
        JsonNode n = body.get("n");
        if (n != null && !n.isNull() && !(n.isIntegralNumber() && n.asInt() == 1)) {
            throw ApiError.unsupported("n", "'n' must be 1: moed returns one choice per request, got " + n);
        }
        for (String f : new String[] {"logprobs", "top_logprobs"}) {
            JsonNode v = body.get(f);
            if (v != null && !v.isNull() && !(v.isBoolean() && !v.asBoolean()) && !(v.isNumber() && v.asInt() == 0)) {
                throw ApiError.unsupported(f, "'" + f + "' is not supported");
            }
        }
        for (String f : new String[] {"presence_penalty", "frequency_penalty"}) {
            JsonNode v = body.get(f);
            if (v != null && !v.isNull() && !(v.isNumber() && v.asDouble() == 0)) {
                throw ApiError.unsupported(f, "'" + f + "' is not supported (use repeat_penalty); give 0 or leave it out");
            }
        }
        JsonNode tools = body.get("tools");
        if (tools != null && !tools.isNull() && !(tools.isArray() && tools.isEmpty())) {
            throw ApiError.unsupported("tools", "tool calls are not supported");
        }
        float temperature = number(body, "temperature", 1, 0, 2, "in [0, 2]");
        float topP = number(body, "top_p", 1, Float.MIN_VALUE, 1, "in (0, 1]");
        float minP = number(body, "min_p", 0, 0, Math.nextDown(1f), "in [0, 1)");
        float repeat = number(body, "repeat_penalty", 1, Float.MIN_VALUE, 10, "in (0, 10] (1 = off)");
        int topK = (int) wholeNumber(body, "top_k", 0, 0, Integer.MAX_VALUE);
        long seed = wholeNumber(body, "seed", ThreadLocalRandom.current().nextLong(), Long.MIN_VALUE, Long.MAX_VALUE);
        return new BatchScheduler.Params(maxTokens, new SamplerConfig(temperature, topK, topP, minP, repeat, 64, seed), stops(body));
    }

    private static float number(JsonNode body, String name, float otherwise, float min, float max, String range) {
        JsonNode v = body.get(name);
        if (v == null || v.isNull()) {
            return otherwise;
        }
        if (!v.isNumber()) {
            throw ApiError.invalid(name, "'" + name + "' must be a number, got " + kind(v));
        }
        double d = v.asDouble();
        if (!(d >= min && d <= max)) {
            throw ApiError.invalid(name, "'" + name + "' must be " + range + ", got " + v);
        }
        return (float) d;
    }

    private static long wholeNumber(JsonNode body, String name, long otherwise, long min, long max) {
        JsonNode v = body.get(name);
        if (v == null || v.isNull()) {
            return otherwise;
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong() || v.asLong() < min || v.asLong() > max) {
            throw ApiError.invalid(name, "'" + name + "' must be a whole number in [" + min + ", " + max + "], got " + v);
        }
        return v.asLong();
    }

    private static List<String> stops(JsonNode body) {
        JsonNode s = body.get("stop");
        if (s == null || s.isNull()) {
            return List.of();
        }
        List<String> stops = new ArrayList<>();
        if (s.isTextual()) {
            stops.add(s.asText());
        } else if (s.isArray()) {
            for (Iterator<JsonNode> it = s.elements(); it.hasNext(); ) {
                JsonNode e = it.next();
                if (!e.isTextual()) {
                    throw ApiError.invalid("stop", "'stop' must hold strings, got " + kind(e));
                }
                stops.add(e.asText());
            }
        } else {
            throw ApiError.invalid("stop", "'stop' must be a string or a list of strings, got " + kind(s));
        }
        if (stops.size() > MAX_STOPS) {
            throw ApiError.invalid("stop", "at most " + MAX_STOPS + " stop strings, got " + stops.size());
        }
        if (stops.contains("")) {
            throw ApiError.invalid("stop", "a stop string is empty");
        }
        return stops;
    }

    private static boolean stream(JsonNode body) {
        JsonNode s = body.get("stream");
        if (s == null || s.isNull()) {
            return false;
        }
        if (!s.isBoolean()) {
            throw ApiError.invalid("stream", "'stream' must be true or false, got " + kind(s));
        }
        return s.asBoolean();
    }

    private static boolean includeUsage(JsonNode body) {
        JsonNode o = body.get("stream_options");
        if (o == null || o.isNull()) {
            return false;
        }
        if (!o.isObject()) {
            throw ApiError.invalid("stream_options", "'stream_options' must be an object, got " + kind(o));
        }
        return o.path("include_usage").asBoolean(false);
    }

    /** What a JSON value is, for messages ("a list", "a number"). */
    static String kind(JsonNode n) {
        if (n == null) {
            return "nothing";
        }
        return switch (n.getNodeType()) {
            case ARRAY -> "a list";
            case OBJECT -> "an object";
            case STRING -> "a string";
            case NUMBER -> "a number";
            case BOOLEAN -> "a boolean";
            case NULL -> "null";
            default -> n.getNodeType().toString().toLowerCase(java.util.Locale.ROOT);
        };
    }

}
