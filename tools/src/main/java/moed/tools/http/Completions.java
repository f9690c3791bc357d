package moed.tools.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import moed.runtime.StopReason;
import moed.runtime.serve.BatchScheduler;

/**
 * Runs one completion request on the shared scheduler and answers it in OpenAI's shapes: a whole
 * {@code chat.completion} / {@code text_completion} object, or server-sent events (one {@code data: {chunk}} per
 * piece of text, then {@code data: [DONE]}). The reply's headers wait for the request's first result, so a prompt the
 * model cannot take (longer than the context, a model without a chat template) still gets a plain 400. A client that
 * goes away is noticed at the next write and its sequence cancelled, so it stops costing the others a row.
 */
final class Completions {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final BatchScheduler scheduler;
    private final String model;

    Completions(BatchScheduler scheduler, String model) {
        this.scheduler = scheduler;
        this.model = model;
    }

    /** The request's reply, whatever happens; IOException when the client has gone. */
    void run(HttpExchange ex, ApiRequest req, boolean chat) throws IOException, InterruptedException {
        ReplyBuffer reply = new ReplyBuffer();
        long id;
        try {
            id = scheduler.submit(req.prompt(), req.params(), reply);
        } catch (BatchScheduler.QueueFullException e) {
            ex.getResponseHeaders().set("Retry-After", "1");
            throw new ApiError(429, "rate_limit_exceeded", null, "queue_full", e.getMessage());
        }
        try {
            if (req.stream()) {
                stream(ex, req, chat, id, reply);
            } else {
                whole(ex, chat, id, reply);
            }
        } catch (IOException | InterruptedException | RuntimeException e) {
            scheduler.cancel(id); // the client went away, or this thread failed: stop spending steps on it
            throw e;
        }
    }

    private void whole(HttpExchange ex, boolean chat, long id, ReplyBuffer reply) throws IOException, InterruptedException {
        StringBuilder text = new StringBuilder();
        ReplyBuffer.Outcome o;
        do {
            reply.await();
            o = reply.outcome();
            text.append(reply.take());
        } while (o == null);
        if (o.failed()) {
            throw failure(o);
        }
        ObjectNode r = JSON.createObjectNode();
        r.put("id", (chat ? "chatcmpl-" : "cmpl-") + id);
        r.put("object", chat ? "chat.completion" : "text_completion");
        r.put("created", System.currentTimeMillis() / 1000);
        r.put("model", model);
        ObjectNode choice = r.putArray("choices").addObject();
        choice.put("index", 0);
        if (chat) {
            ObjectNode m = choice.putObject("message");
            m.put("role", "assistant");
            m.put("content", text.toString());
        } else {
            choice.put("text", text.toString());
            choice.putNull("logprobs");
        }
        choice.put("finish_reason", finishReason(o.reason()));
        r.set("usage", usage(o));
        HttpApi.sendJson(ex, 200, r);
    }

    private void stream(HttpExchange ex, ApiRequest req, boolean chat, long id, ReplyBuffer reply) throws IOException, InterruptedException {
        reply.await();
        ReplyBuffer.Outcome first = reply.outcome();
        if (first != null && first.failed()) {
            throw failure(first); // nothing sent yet: a plain error reply
        }
        ex.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
        ex.getResponseHeaders().set("Cache-Control", "no-cache");
        ex.sendResponseHeaders(200, 0);
        OutputStream out = ex.getResponseBody();
        long created = System.currentTimeMillis() / 1000;
        String objectId = (chat ? "chatcmpl-" : "cmpl-") + id;
        if (chat) {
            // OpenAI's first chunk names the role; clients build the message from it.
            ObjectNode c = chunk(objectId, created, chat, req.includeUsage());
            c.withArray("choices").addObject().put("index", 0).putNull("finish_reason").putObject("delta")
                    .put("role", "assistant").put("content", "");
            event(out, c.toString());
        }
        ReplyBuffer.Outcome o;
        while (true) {
            o = reply.outcome();
            String text = reply.take();
            if (!text.isEmpty()) {
                ObjectNode c = chunk(objectId, created, chat, req.includeUsage());
                ObjectNode choice = c.withArray("choices").addObject().put("index", 0);
                if (chat) {
                    choice.putObject("delta").put("content", text);
                } else {
                    choice.put("text", text).putNull("logprobs");
                }
                choice.putNull("finish_reason");
                event(out, c.toString());
            }
            if (o != null) {
                break;
            }
            reply.await();
        }
        if (o.failed()) {
            // Headers are gone: the error travels as an event, which OpenAI's clients raise as an APIError.
            event(out, failure(o).body().toString());
        } else {
            ObjectNode c = chunk(objectId, created, chat, req.includeUsage());
            ObjectNode choice = c.withArray("choices").addObject().put("index", 0);
            if (chat) {
                choice.putObject("delta");
            } else {
                choice.put("text", "").putNull("logprobs");
            }
            choice.put("finish_reason", finishReason(o.reason()));
            event(out, c.toString());
            if (req.includeUsage()) {
                ObjectNode u = chunk(objectId, created, chat, false);
                u.putArray("choices");
                u.set("usage", usage(o));
                event(out, u.toString());
            }
            event(out, "[DONE]");
        }
        out.close();
    }

    private ObjectNode chunk(String objectId, long created, boolean chat, boolean withUsage) {
        ObjectNode c = JSON.createObjectNode();
        c.put("id", objectId);
        c.put("object", chat ? "chat.completion.chunk" : "text_completion");
        c.put("created", created);
        c.put("model", model);
        c.putArray("choices");
        if (withUsage) {
            c.putNull("usage"); // OpenAI's chunks carry usage: null until the last one when it was asked for
        }
        return c;
    }

    private static void event(OutputStream out, String data) throws IOException {
        out.write(("data: " + data + "\n\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private static ObjectNode usage(ReplyBuffer.Outcome o) {
        ObjectNode u = JSON.createObjectNode();
        u.put("prompt_tokens", o.promptTokens());
        u.put("completion_tokens", o.generatedTokens());
        u.put("total_tokens", o.promptTokens() + o.generatedTokens());
        return u;
    }

    /** OpenAI's two reasons: "length" when a limit cut the text, "stop" when the model or a stop string ended it. */
    static String finishReason(StopReason r) {
        return r == StopReason.LENGTH || r == StopReason.CONTEXT ? "length" : "stop";
    }

    /** A request the scheduler ended with an error, as the HTTP error it is. */
    private static ApiError failure(ReplyBuffer.Outcome o) {
        return switch (o.errorCode()) {
            case "bad_request" -> new ApiError(400, "invalid_request_error", null, null, o.errorMessage());
            case "shutdown" -> new ApiError(503, "server_error", null, "shutdown", o.errorMessage());
            default -> new ApiError(500, "server_error", null, o.errorCode(), o.errorMessage());
        };
    }
}
