package moed.runtime.chat;

import static moed.runtime.chat.PyValues.UNDEFINED;
import static moed.runtime.chat.PyValues.str;
import static moed.runtime.chat.PyValues.truthy;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import moed.runtime.chat.JinjaParser.Attr;
import moed.runtime.chat.JinjaParser.Binary;
import moed.runtime.chat.JinjaParser.Call;
import moed.runtime.chat.JinjaParser.Conditional;
import moed.runtime.chat.JinjaParser.DictLiteral;
import moed.runtime.chat.JinjaParser.Expr;
import moed.runtime.chat.JinjaParser.Filter;
import moed.runtime.chat.JinjaParser.For;
import moed.runtime.chat.JinjaParser.If;
import moed.runtime.chat.JinjaParser.Index;
import moed.runtime.chat.JinjaParser.ListLiteral;
import moed.runtime.chat.JinjaParser.Literal;
import moed.runtime.chat.JinjaParser.LoopControl;
import moed.runtime.chat.JinjaParser.Macro;
import moed.runtime.chat.JinjaParser.Name;
import moed.runtime.chat.JinjaParser.Node;
import moed.runtime.chat.JinjaParser.Output;
import moed.runtime.chat.JinjaParser.SetValue;
import moed.runtime.chat.JinjaParser.Slice;
import moed.runtime.chat.JinjaParser.Test;
import moed.runtime.chat.JinjaParser.Text;
import moed.runtime.chat.JinjaParser.Unary;

/**
 * A Jinja template as chat templates are written: Hugging Face renders {@code tokenizer.chat_template} with Python's
 * Jinja2, so templates use Python's string and dict methods ({@code content.split('</think>')[-1].lstrip('\n')},
 * {@code message.get('tool_calls')}), slices ({@code messages[::-1]}), {@code namespace()} and
 * {@code raise_exception()} as transformers provides them. Java's Jinja engines follow Jinja's syntax but not
 * Python's object model, so moed interprets the subset chat templates use itself (as llama.cpp does with minja).
 * Rendering is cold-path code: one call per conversation turn.
 */
public final class JinjaTemplate {
    private final List<Node> body;

    private JinjaTemplate(List<Node> body) {
        this.body = body;
    }

    public static JinjaTemplate parse(String source) {
        return new JinjaTemplate(JinjaParser.parse(source));
    }

    /** Renders with the given variables (messages, add_generation_prompt, bos_token, ...). */
    public String render(Map<String, Object> variables) {
        Renderer r = new Renderer();
        r.scopes.push(new HashMap<>(variables));
        r.run(body);
        return r.out.toString();
    }

    /** A {% macro %}: called like a function, it renders its body with its parameters bound. */
    private record MacroValue(Macro macro) {
    }

    /** transformers' namespace(): a mutable object whose attributes survive loop scopes. */
    private static final class Namespace extends LinkedHashMap<String, Object> {
    }

    private static final class LoopSignal extends RuntimeException {
        final boolean isBreak;

        LoopSignal(boolean isBreak) {
            super(null, null, false, false);
            this.isBreak = isBreak;
        }
    }

    private static final class Renderer {
        private final Deque<Map<String, Object>> scopes = new ArrayDeque<>();
        private StringBuilder out = new StringBuilder();

        void run(List<Node> nodes) {
            for (Node n : nodes) {
                run(n);
            }
        }

        private void run(Node n) {
            switch (n) {
                case Text t -> out.append(t.text());
                case Output o -> out.append(str(eval(o.value())));
                case If i -> {
                    for (int k = 0; k < i.conditions().size(); k++) {
                        if (truthy(eval(i.conditions().get(k)))) {
                            run(i.bodies().get(k));
                            return;
                        }
                    }
                    run(i.otherwise());
                }
                case For f -> loop(f);
                case SetValue s -> assign(s);
                case Macro m -> scopes.peek().put(m.name(), new MacroValue(m));
                case LoopControl c -> throw new LoopSignal(c.isBreak());
            }
        }

        private void loop(For f) {
            List<?> all = PyValues.iterable(eval(f.iterable()), -1);
            List<Object> items = new ArrayList<>();
            Map<String, Object> frame = new HashMap<>();
            scopes.push(frame);
            try {
                for (Object item : all) {
                    bind(f.targets(), item, frame);
                    if (f.filter() == null || truthy(eval(f.filter()))) {
                        items.add(item);
                    }
                }
                if (items.isEmpty()) {
                    run(f.otherwise());
                    return;
                }
                for (int k = 0; k < items.size(); k++) {
                    frame.clear();
                    bind(f.targets(), items.get(k), frame);
                    frame.put("loop", loopInfo(items, k));
                    try {
                        run(f.body());
                    } catch (LoopSignal s) {
                        if (s.isBreak) {
                            break;
                        }
                    }
                }
            } finally {
                scopes.pop();
            }
        }

        private static void bind(List<String> targets, Object item, Map<String, Object> frame) {
            if (targets.size() == 1) {
                frame.put(targets.get(0), item);
                return;
            }
            List<?> parts = item instanceof List<?> l ? l : List.of();
            for (int t = 0; t < targets.size(); t++) {
                frame.put(targets.get(t), t < parts.size() ? parts.get(t) : UNDEFINED);
            }
        }

        private static Map<String, Object> loopInfo(List<Object> items, int k) {
            Map<String, Object> loop = new HashMap<>();
            int n = items.size();
            loop.put("index", (long) k + 1);
            loop.put("index0", (long) k);
            loop.put("revindex", (long) (n - k));
            loop.put("revindex0", (long) (n - k - 1));
            loop.put("first", k == 0);
            loop.put("last", k == n - 1);
            loop.put("length", (long) n);
            loop.put("previtem", k > 0 ? items.get(k - 1) : UNDEFINED);
            loop.put("nextitem", k + 1 < n ? items.get(k + 1) : UNDEFINED);
            return loop;
        }

        private void assign(SetValue s) {
            Object value;
            if (s.value() != null) {
                value = eval(s.value());
            } else {
                StringBuilder saved = out;
                out = new StringBuilder();
                run(s.block());
                value = out.toString();
                out = saved;
            }
            if (s.target() instanceof Name name) {
                scopes.peek().put(name.name(), value);
            } else if (s.target() instanceof Attr a && eval(a.target()) instanceof Namespace ns) {
                ns.put(a.name(), value);
            } else {
                throw new JinjaException("can only set a variable or a namespace attribute", -1);
            }
        }

        private Object lookup(String name) {
            for (Map<String, Object> scope : scopes) {
                if (scope.containsKey(name)) {
                    return scope.get(name);
                }
            }
            return UNDEFINED;
        }

        Object eval(Expr e) {
            return switch (e) {
                case Literal l -> l.value();
                case Name n -> lookup(n.name());
                case Attr a -> attribute(eval(a.target()), a.name());
                case Index i -> index(eval(i.target()), eval(i.index()));
                case Slice s -> slice(eval(s.target()), s);
                case ListLiteral l -> {
                    List<Object> items = new ArrayList<>();
                    for (Expr x : l.items()) {
                        items.add(eval(x));
                    }
                    yield items;
                }
                case DictLiteral d -> {
                    Map<String, Object> m = new LinkedHashMap<>();
                    for (int k = 0; k < d.keys().size(); k++) {
                        m.put(str(eval(d.keys().get(k))), eval(d.values().get(k)));
                    }
                    yield m;
                }
                case Conditional c -> truthy(eval(c.condition())) ? eval(c.then()) : eval(c.otherwise());
                case Unary u -> switch (u.op()) {
                    case "not" -> !truthy(eval(u.operand()));
                    default -> negate(eval(u.operand()));
                };
                case Binary b -> binary(b);
                case Test t -> t.negated() != test(t);
                case Filter f -> filter(f);
                case Call c -> call(c);
            };
        }

        private static Object negate(Object v) {
            if (v instanceof Long l) {
                return -l;
            }
            if (v instanceof Double d) {
                return -d;
            }
            throw new JinjaException("cannot negate " + PyValues.typeName(v), -1);
        }

        private Object binary(Binary b) {
            switch (b.op()) {
                case "and" -> {
                    Object l = eval(b.left());
                    return truthy(l) ? eval(b.right()) : l;
                }
                case "or" -> {
                    Object l = eval(b.left());
                    return truthy(l) ? l : eval(b.right());
                }
                default -> {
                }
            }
            Object l = eval(b.left());
            Object r = eval(b.right());
            return switch (b.op()) {
                case "==" -> PyValues.equal(l, r);
                case "!=" -> !PyValues.equal(l, r);
                case "<" -> PyValues.compare(l, r, b.offset()) < 0;
                case ">" -> PyValues.compare(l, r, b.offset()) > 0;
                case "<=" -> PyValues.compare(l, r, b.offset()) <= 0;
                case ">=" -> PyValues.compare(l, r, b.offset()) >= 0;
                case "in" -> contains(r, l, b.offset());
                case "~" -> str(l) + str(r);
                case "+" -> plus(l, r, b.offset());
                default -> arithmetic(b.op(), l, r, b.offset());
            };
        }

        private static boolean contains(Object container, Object item, int offset) {
            if (container instanceof String s) {
                return s.contains(str(item));
            }
            if (container instanceof List<?> l) {
                for (Object x : l) {
                    if (PyValues.equal(x, item)) {
                        return true;
                    }
                }
                return false;
            }
            if (container instanceof Map<?, ?> m) {
                return m.containsKey(str(item));
            }
            if (container == UNDEFINED || container == null) {
                return false;
            }
            throw new JinjaException("'in' needs a string, list or dict, not " + PyValues.typeName(container), offset);
        }

        private static Object plus(Object l, Object r, int offset) {
            if (l instanceof String a && r instanceof String c) {
                return a + c;
            }
            if (l instanceof List<?> a && r instanceof List<?> c) {
                List<Object> out = new ArrayList<>(a);
                out.addAll(c);
                return out;
            }
            return arithmetic("+", l, r, offset);
        }

        private static Object arithmetic(String op, Object l, Object r, int offset) {
            if (!(l instanceof Number a) || !(r instanceof Number c) || l instanceof Boolean || r instanceof Boolean) {
                throw new JinjaException("cannot apply '" + op + "' to " + PyValues.typeName(l) + " and " + PyValues.typeName(r), offset);
            }
            boolean ints = l instanceof Long && r instanceof Long;
            switch (op) {
                case "+" -> {
                    return ints ? (Object) (a.longValue() + c.longValue()) : a.doubleValue() + c.doubleValue();
                }
                case "-" -> {
                    return ints ? (Object) (a.longValue() - c.longValue()) : a.doubleValue() - c.doubleValue();
                }
                case "*" -> {
                    return ints ? (Object) (a.longValue() * c.longValue()) : a.doubleValue() * c.doubleValue();
                }
                case "/" -> {
                    return a.doubleValue() / c.doubleValue();
                }
                case "//" -> {
                    return ints ? (Object) Math.floorDiv(a.longValue(), c.longValue()) : Math.floor(a.doubleValue() / c.doubleValue());
                }
                case "%" -> {
                    return ints ? (Object) Math.floorMod(a.longValue(), c.longValue()) : a.doubleValue() % c.doubleValue();
                }
                case "**" -> {
                    double p = Math.pow(a.doubleValue(), c.doubleValue());
                    return ints && c.longValue() >= 0 ? (Object) (long) p : p;
                }
                default -> throw new JinjaException("unknown operator " + op, offset);
            }
        }

        private static Object attribute(Object target, String name) {
            if (target instanceof Map<?, ?> m) {
                return m.containsKey(name) ? m.get(name) : UNDEFINED;
            }
            return UNDEFINED;
        }

        private static Object index(Object target, Object key) {
            if (target instanceof List<?> l && key instanceof Long i) {
                long k = i < 0 ? l.size() + i : i;
                return k >= 0 && k < l.size() ? l.get((int) k) : UNDEFINED;
            }
            if (target instanceof String s && key instanceof Long i) {
                long k = i < 0 ? s.length() + i : i;
                return k >= 0 && k < s.length() ? String.valueOf(s.charAt((int) k)) : UNDEFINED;
            }
            if (target instanceof Map<?, ?> m) {
                String k = str(key);
                return m.containsKey(k) ? m.get(k) : UNDEFINED;
            }
            return UNDEFINED;
        }

        /** Python's slice semantics (negative indices and steps, clamping). */
        private Object slice(Object target, Slice s) {
            Long start = optionalLong(s.start());
            Long stop = optionalLong(s.stop());
            Long stepL = optionalLong(s.step());
            long step = stepL == null ? 1 : stepL;
            if (step == 0) {
                throw new JinjaException("slice step cannot be zero", -1);
            }
            List<?> items = target instanceof String str ? str.codePoints().mapToObj(Character::toString).toList()
                    : target instanceof List<?> l ? l : List.of();
            int n = items.size();
            long lo;
            long hi;
            if (step > 0) {
                lo = start == null ? 0 : clamp(start < 0 ? start + n : start, 0, n);
                hi = stop == null ? n : clamp(stop < 0 ? stop + n : stop, 0, n);
            } else {
                lo = start == null ? n - 1 : clamp(start < 0 ? start + n : start, -1, n - 1);
                hi = stop == null ? -1 : clamp(stop < 0 ? stop + n : stop, -1, n - 1);
            }
            List<Object> out = new ArrayList<>();
            for (long i = lo; step > 0 ? i < hi : i > hi; i += step) {
                out.add(items.get((int) i));
            }
            if (target instanceof String) {
                StringBuilder sb = new StringBuilder();
                out.forEach(sb::append);
                return sb.toString();
            }
            return out;
        }

        private static long clamp(long v, long lo, long hi) {
            return Math.max(lo, Math.min(hi, v));
        }

        private Long optionalLong(Expr e) {
            if (e == null) {
                return null;
            }
            Object v = eval(e);
            return v == null ? null : ((Number) v).longValue();
        }

        private boolean test(Test t) {
            Object v = eval(t.target());
            List<Object> args = evalAll(t.args());
            return switch (t.name()) {
                case "defined" -> v != UNDEFINED;
                case "undefined" -> v == UNDEFINED;
                case "none" -> v == null;
                case "string" -> v instanceof String;
                case "number" -> v instanceof Long || v instanceof Double;
                case "integer" -> v instanceof Long;
                case "float" -> v instanceof Double;
                case "boolean" -> v instanceof Boolean;
                case "true" -> Boolean.TRUE.equals(v);
                case "false" -> Boolean.FALSE.equals(v);
                case "mapping" -> v instanceof Map;
                case "sequence", "iterable" -> v instanceof List || v instanceof String || v instanceof Map;
                case "callable" -> v instanceof MacroValue;
                case "even" -> v instanceof Long l && l % 2 == 0;
                case "odd" -> v instanceof Long l && l % 2 != 0;
                case "divisibleby" -> v instanceof Long l && l % ((Number) args.get(0)).longValue() == 0;
                case "eq", "equalto", "==" -> PyValues.equal(v, args.get(0));
                case "ne", "!=" -> !PyValues.equal(v, args.get(0));
                case "in" -> contains(args.get(0), v, t.offset());
                default -> throw new JinjaException("unknown test '" + t.name() + "'", t.offset());
            };
        }

        private List<Object> evalAll(List<Expr> exprs) {
            List<Object> out = new ArrayList<>();
            for (Expr x : exprs) {
                out.add(eval(x));
            }
            return out;
        }

        private Map<String, Object> evalAll(Map<String, Expr> exprs) {
            Map<String, Object> out = new LinkedHashMap<>();
            exprs.forEach((k, x) -> out.put(k, eval(x)));
            return out;
        }

        private Object filter(Filter f) {
            Object v = eval(f.target());
            List<Object> a = evalAll(f.args());
            Map<String, Object> kw = evalAll(f.kwargs());
            return Filters.apply(f.name(), v, a, kw, f.offset());
        }

        private Object call(Call c) {
            List<Object> args = evalAll(c.args());
            Map<String, Object> kwargs = evalAll(c.kwargs());
            if (c.fn() instanceof Attr a) {
                Object target = eval(a.target());
                if (!(target instanceof Map<?, ?> m && m.get(a.name()) instanceof MacroValue)) {
                    return Methods.call(target, a.name(), args, kwargs, c.offset());
                }
            }
            if (c.fn() instanceof Name n) {
                switch (n.name()) {
                    case "namespace" -> {
                        Namespace ns = new Namespace();
                        ns.putAll(kwargs);
                        return ns;
                    }
                    case "raise_exception" -> throw new JinjaException("the chat template refused the conversation: "
                            + (args.isEmpty() ? "" : str(args.get(0))), c.offset());
                    case "range" -> {
                        long from = args.size() > 1 ? ((Number) args.get(0)).longValue() : 0;
                        long to = ((Number) args.get(args.size() > 1 ? 1 : 0)).longValue();
                        long step = args.size() > 2 ? ((Number) args.get(2)).longValue() : 1;
                        List<Object> out = new ArrayList<>();
                        for (long i = from; step > 0 ? i < to : i > to; i += step) {
                            out.add(i);
                        }
                        return out;
                    }
                    case "dict" -> {
                        return new LinkedHashMap<>(kwargs);
                    }
                    case "strftime_now" -> {
                        return java.time.format.DateTimeFormatter.ofPattern(strftimeToJava(str(args.get(0))))
                                .format(java.time.LocalDateTime.now());
                    }
                    default -> {
                    }
                }
            }
            Object fn = eval(c.fn());
            if (fn instanceof MacroValue m) {
                return invoke(m.macro(), args, kwargs);
            }
            throw new JinjaException("'" + describe(c.fn()) + "' is not a function the chat template can call", c.offset());
        }

        private static String describe(Expr e) {
            return e instanceof Name n ? n.name() : e instanceof Attr a ? describe(a.target()) + "." + a.name() : "expression";
        }

        private Object invoke(Macro m, List<Object> args, Map<String, Object> kwargs) {
            Map<String, Object> frame = new HashMap<>();
            for (int k = 0; k < m.params().size(); k++) {
                String p = m.params().get(k);
                Object v = k < args.size() ? args.get(k) : kwargs.containsKey(p) ? kwargs.get(p)
                        : m.defaults().get(k) != null ? eval(m.defaults().get(k)) : UNDEFINED;
                frame.put(p, v);
            }
            StringBuilder saved = out;
            out = new StringBuilder();
            scopes.push(frame);
            try {
                run(m.body());
                return out.toString();
            } finally {
                scopes.pop();
                out = saved;
            }
        }

        /** The strftime directives templates use for "today's date". */
        private static String strftimeToJava(String f) {
            return f.replace("%d", "dd").replace("%b", "MMM").replace("%B", "MMMM").replace("%Y", "yyyy").replace("%m", "MM")
                    .replace("%y", "yy").replace("%H", "HH").replace("%M", "mm").replace("%S", "ss");
        }
    }
}
