package moed.runtime.chat;

import static moed.runtime.chat.PyValues.UNDEFINED;
import static moed.runtime.chat.PyValues.str;
import static moed.runtime.chat.PyValues.truthy;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/** Jinja's built-in filters that chat templates use ({@code x | trim}, {@code tools | tojson}, ...). */
final class Filters {
    private Filters() {
    }

    static Object apply(String name, Object v, List<Object> a, Map<String, Object> kw, int offset) {
        return switch (name) {
            case "trim" -> str(v).strip();
            case "length", "count" -> v instanceof String s ? (long) s.codePointCount(0, s.length())
                    : (long) PyValues.iterable(v, offset).size();
            case "string" -> str(v);
            case "upper" -> str(v).toUpperCase(java.util.Locale.ROOT);
            case "lower" -> str(v).toLowerCase(java.util.Locale.ROOT);
            case "capitalize" -> Methods.call(v, "capitalize", a, kw, offset);
            case "title" -> Methods.call(v, "title", a, kw, offset);
            case "safe", "e", "escape" -> v; // transformers' environment does not autoescape
            case "tojson" -> PyValues.toJson(v, kw.get("indent") instanceof Long i ? i.intValue()
                    : !a.isEmpty() && a.get(0) instanceof Long i ? i.intValue() : null);
            case "default", "d" -> {
                boolean ifFalsy = a.size() > 1 && truthy(a.get(1)) || truthy(kw.get("boolean"));
                yield v == UNDEFINED || (ifFalsy && !truthy(v)) ? (a.isEmpty() ? "" : a.get(0)) : v;
            }
            case "first" -> {
                List<?> l = PyValues.iterable(v, offset);
                yield l.isEmpty() ? UNDEFINED : l.get(0);
            }
            case "last" -> {
                List<?> l = PyValues.iterable(v, offset);
                yield l.isEmpty() ? UNDEFINED : l.get(l.size() - 1);
            }
            case "join" -> {
                StringBuilder sb = new StringBuilder();
                String sep = a.isEmpty() ? "" : str(a.get(0));
                List<?> l = PyValues.iterable(v, offset);
                for (int i = 0; i < l.size(); i++) {
                    sb.append(i == 0 ? "" : sep).append(str(l.get(i)));
                }
                yield sb.toString();
            }
            case "list" -> new ArrayList<>(PyValues.iterable(v, offset));
            case "reverse" -> {
                if (v instanceof String s) {
                    yield new StringBuilder(s).reverse().toString();
                }
                List<Object> l = new ArrayList<>(PyValues.iterable(v, offset));
                java.util.Collections.reverse(l);
                yield l;
            }
            case "unique" -> new ArrayList<>(new LinkedHashSet<>(PyValues.iterable(v, offset)));
            case "items" -> Methods.call(v, "items", a, kw, offset);
            case "dictsort" -> {
                List<Object> items = new ArrayList<>(((List<?>) Methods.call(v, "items", List.of(), Map.of(), offset)));
                items.sort((x, y) -> str(((List<?>) x).get(0)).compareTo(str(((List<?>) y).get(0))));
                yield items;
            }
            case "replace" -> str(v).replace(str(a.get(0)), str(a.get(1)));
            case "int" -> v instanceof Number n ? (Object) n.longValue() : parseLong(str(v));
            case "float" -> v instanceof Number n ? (Object) n.doubleValue() : Double.parseDouble(str(v));
            case "abs" -> v instanceof Long l ? (Object) Math.abs(l) : Math.abs(((Number) v).doubleValue());
            case "round" -> Math.round(((Number) v).doubleValue() * Math.pow(10, a.isEmpty() ? 0 : ((Number) a.get(0)).intValue()))
                    / Math.pow(10, a.isEmpty() ? 0 : ((Number) a.get(0)).intValue());
            case "indent" -> {
                String pad = " ".repeat(a.isEmpty() ? 4 : ((Number) a.get(0)).intValue());
                boolean first = a.size() > 1 && truthy(a.get(1)) || truthy(kw.get("first"));
                String s = str(v).replace("\n", "\n" + pad).replaceAll("\n" + pad + "(?=\n|$)", "\n");
                yield first ? pad + s : s;
            }
            case "map" -> {
                List<Object> out = new ArrayList<>();
                for (Object x : PyValues.iterable(v, offset)) {
                    out.add(kw.containsKey("attribute") ? attribute(x, str(kw.get("attribute")))
                            : apply(str(a.get(0)), x, a.subList(1, a.size()), Map.of(), offset));
                }
                yield out;
            }
            case "selectattr", "rejectattr" -> {
                boolean keep = name.equals("selectattr");
                List<Object> out = new ArrayList<>();
                for (Object x : PyValues.iterable(v, offset)) {
                    Object attr = attribute(x, str(a.get(0)));
                    boolean pass = a.size() < 2 ? truthy(attr) : attrTest(str(a.get(1)), attr, a.size() > 2 ? a.get(2) : null, offset);
                    if (pass == keep) {
                        out.add(x);
                    }
                }
                yield out;
            }
            default -> throw new JinjaException("unknown filter '" + name + "'", offset);
        };
    }

    private static Object attribute(Object x, String name) {
        return x instanceof Map<?, ?> m && m.containsKey(name) ? m.get(name) : UNDEFINED;
    }

    private static boolean attrTest(String test, Object v, Object arg, int offset) {
        return switch (test) {
            case "defined" -> v != UNDEFINED;
            case "undefined" -> v == UNDEFINED;
            case "none" -> v == null;
            case "equalto", "eq", "==" -> PyValues.equal(v, arg);
            case "ne", "!=" -> !PyValues.equal(v, arg);
            case "string" -> v instanceof String;
            case "in" -> arg instanceof List<?> l && l.contains(v);
            default -> throw new JinjaException("unknown test '" + test + "' in selectattr", offset);
        };
    }

    private static Object parseLong(String s) {
        try {
            return Long.parseLong(s.strip());
        } catch (NumberFormatException e) {
            return 0L;
        }
    }
}
