package moed.runtime.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The Jinja interpreter against real chat templates (Qwen3, DeepSeek-V3.1, gpt-oss; see the resources' README) with
 * the outputs Python's Jinja2 gives them under transformers' settings, and against the language features those
 * templates lean on.
 */
class JinjaTemplateTest {
    private static String resource(String name) throws Exception {
        try (var in = JinjaTemplateTest.class.getResourceAsStream(name)) {
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    private static Map<String, Object> msg(String role, String content) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("role", role);
        m.put("content", content);
        return m;
    }

    private static String render(String template, List<Map<String, Object>> messages, boolean generationPrompt, Object... more) {
        Map<String, Object> vars = new HashMap<>();
        vars.put("messages", new ArrayList<Object>(messages));
        vars.put("add_generation_prompt", generationPrompt);
        for (int i = 0; i < more.length; i += 2) {
            vars.put((String) more[i], more[i + 1]);
        }
        return JinjaTemplate.parse(template).render(vars);
    }

    @Test
    void shouldRenderQwen3sTemplateAsTransformersDoes() throws Exception {
        String t = resource("qwen3.jinja");
        // Earlier turns lose their reasoning; the prompt ends with the assistant's header.
        assertEquals("<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                        + "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n",
                render(t, List.of(msg("system", "You are terse."), msg("user", "Hi"),
                        msg("assistant", "<think>\nplan\n</think>\n\nHello!"), msg("user", "Bye")), true));
        // An assistant turn after the last user query keeps its reasoning, split out of the content.
        assertEquals("<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\nr\n</think>\n\nA<|im_end|>\n",
                render(t, List.of(msg("user", "Q"), msg("assistant", "<think>r</think>A")), false));
        // enable_thinking=false pre-fills an empty reasoning block.
        assertTrue(render(t, List.of(msg("user", "Q")), true, "enable_thinking", false)
                .endsWith("<|im_start|>assistant\n<think>\n\n</think>\n\n"));
    }

    @Test
    void shouldRenderDeepSeekV31sTemplateAsTransformersDoes() throws Exception {
        String t = resource("deepseek-v3.1.jinja");
        assertEquals("<｜begin▁of▁sentence｜>S1<｜User｜>Hi<｜Assistant｜></think>Hello<｜end▁of▁sentence｜><｜User｜>Bye<｜Assistant｜></think>",
                render(t, List.of(msg("system", "S1"), msg("user", "Hi"), msg("assistant", "<think>hmm</think>Hello"), msg("user", "Bye")),
                        true, "bos_token", "<｜begin▁of▁sentence｜>"));
    }

    @Test
    void shouldRenderGptOssHarmonyFormat() throws Exception {
        String t = resource("gpt-oss-main.jinja");
        String today = java.time.LocalDate.now().toString();
        assertEquals("<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: 2024-06\n"
                        + "Current date: " + today + "\n\nReasoning: medium\n\n# Valid channels: analysis, commentary, final. Channel must "
                        + "be included for every message.<|end|><|start|>developer<|message|># Instructions\n\nBe brief.\n\n<|end|>"
                        + "<|start|>user<|message|>Hi<|end|><|start|>assistant",
                render(t, List.of(msg("system", "Be brief."), msg("user", "Hi")), true));
        // A tool call and its result: arguments and result as JSON, the tool named from the call before it.
        Map<String, Object> call = msg("assistant", "");
        call.put("tool_calls", List.of(Map.of("function", new LinkedHashMap<>(Map.of("name", "get_weather",
                "arguments", new LinkedHashMap<>(Map.of("city", "Paris")))))));
        String out = render(t, List.of(msg("user", "Weather?"), call, msg("tool", "sunny")), true, "reasoning_effort", "low");
        assertTrue(out.contains("Reasoning: low"), out);
        assertTrue(out.endsWith("<|start|>user<|message|>Weather?<|end|><|start|>assistant to=functions.get_weather<|channel|>"
                + "commentary json<|message|>{\"city\": \"Paris\"}<|call|><|start|>functions.get_weather to=assistant<|channel|>"
                + "commentary<|message|>\"sunny\"<|end|><|start|>assistant"), out);
        // The template's own checks reach the caller as an error naming the problem.
        var e = assertThrows(JinjaException.class, () -> render(t, List.of(msg("user", "Hi"),
                msg("assistant", "<|channel|>final<|message|>x")), true));
        assertTrue(e.getMessage().contains("You have passed a message containing <|channel|> tags"), e.getMessage());
    }

    @Test
    void shouldApplyTransformersWhitespaceRules() {
        // trim_blocks drops the newline after a block tag, lstrip_blocks the indentation before one; - strips all.
        assertEquals("  1\n  2\n", render("{% for x in xs %}\n  {{ x }}\n  {% endfor %}", List.of(), false, "xs", List.of(1L, 2L)));
        assertEquals("a|b", render("a  \n {{- '|' -}} \n b", List.of(), false));
        assertEquals("x\n", render("{# note #}\nx\n", List.of(), false));
    }

    @Test
    void shouldEvaluatePythonStyleExpressions() {
        assertEquals("cba|bc|c|[3, 2]", render("{{ s[::-1] }}|{{ s[1:] }}|{{ s[-1] }}|{{ xs[:0:-1] }}", List.of(), false,
                "s", "abc", "xs", List.of(1L, 2L, 3L)));
        assertEquals("True False None 7 2.5 ['a', 1]", render("{{ true }} {{ 1 > 2 }} {{ none }} {{ 3 + 4 }} {{ 5 / 2 }} {{ ['a', 1] }}",
                List.of(), false));
        assertEquals("b,c|yes|2|A-b", render("{{ 'a,b,c'.split(',')[1:] | join(',') }}|{{ 'yes' if 'x' in 'xyz' else 'no' }}"
                + "|{{ {'k': 2}.get('k') }}|{{ 'a' | upper ~ '-' ~ 'B' | lower }}", List.of(), false));
        assertEquals("0:a,1:b(last)", render("{% for x in xs %}{{ loop.index0 }}:{{ x }}{{ '(last)' if loop.last else ',' }}{% endfor %}",
                List.of(), false, "xs", List.of("a", "b")));
        // Loop scope: a plain set inside a loop does not leak; a namespace attribute does.
        assertEquals("0 3", render("{% set n = 0 %}{% set ns = namespace(n=0) %}{% for x in [1, 2, 3] %}{% set n = n + 1 %}"
                + "{% set ns.n = ns.n + 1 %}{% endfor %}{{ n }} {{ ns.n }}", List.of(), false));
        assertEquals("<b>hi</b>|<b>yo</b>", render("{% macro bold(t, tag='b') %}<{{ tag }}>{{ t }}</{{ tag }}>{% endmacro %}"
                + "{{ bold('hi') }}|{{ bold(t='yo') }}", List.of(), false));
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("a", java.util.Arrays.asList(1L, true, null));
        d.put("b", "\"q\"");
        assertEquals("{\"a\": [1, true, null], \"b\": \"\\\"q\\\"\"}", render("{{ d | tojson }}", List.of(), false, "d", d));
        assertEquals("3|yes|no", render("{{ xs | length }}|{{ 'yes' if 4 is divisibleby 2 }}|{{ 'yes' if x is defined else 'no' }}",
                List.of(), false, "xs", List.of(1L, 2L, 3L)));
    }

    @Test
    void shouldNameWhatATemplateGetsWrong() {
        var unclosed = assertThrows(JinjaException.class, () -> JinjaTemplate.parse("{% if x %}a"));
        assertTrue(unclosed.getMessage().contains("endif"), unclosed.getMessage());
        var filter = assertThrows(JinjaException.class, () -> JinjaTemplate.parse("ab{{ x | frobnicate }}").render(Map.of()));
        assertTrue(filter.getMessage().contains("unknown filter 'frobnicate'") && filter.getMessage().contains("at character"),
                filter.getMessage());
        var tag = assertThrows(JinjaException.class, () -> JinjaTemplate.parse("{{ x "));
        assertTrue(tag.getMessage().contains("unclosed"), tag.getMessage());
    }
}
