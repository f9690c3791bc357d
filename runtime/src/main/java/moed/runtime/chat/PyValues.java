package moed.runtime.chat;

import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Python's semantics for the values a template sees (what Jinja inherits from Python): truth, str() and repr(),
 * equality and ordering across int and float, and json.dumps as transformers' {@code tojson} calls it. Values are
 * String, Long, Double, Boolean, null (None), List, Map (insertion-ordered), {@link #UNDEFINED}, namespaces and
 * macros.
 */
final class PyValues {
    /** What a missing variable, attribute or key evaluates to: false, empty when printed, iterable as nothing. */
    static final Object UNDEFINED = new Object() {
        @Override
        public String toString() {
            return "";
        }
    };

    private PyValues() {
    }

    static boolean truthy(Object v) {
        if (v == null || v == UNDEFINED) {
            return false;
        }
        if (v instanceof Boolean b) {
            return b;
        }
        if (v instanceof String s) {
            return !s.isEmpty();
        }
        if (v instanceof Long l) {
            return l != 0;
        }
        if (v instanceof Double d) {
            return d != 0;
        }
        if (v instanceof List<?> l) {
            return !l.isEmpty();
        }
        if (v instanceof Map<?, ?> m) {
            return !m.isEmpty();
        }
        return true;
    }

    /** Python's str(). */
    static String str(Object v) {
        if (v instanceof String s) {
            return s;
        }
        if (v == UNDEFINED) {
            return "";
        }
        return repr(v);
    }

    /** Python's repr(): what str() of a list or dict shows of its items. */
    static String repr(Object v) {
        if (v == null) {
            return "None";
        }
        if (v instanceof Boolean b) {
            return b ? "True" : "False";
        }
        if (v instanceof String s) {
            String q = s.contains("'") && !s.contains("\"") ? "\"" : "'";
            return q + s.replace("\\", "\\\\").replace("\n", "\\n").replace(q, "\\" + q) + q;
        }
        if (v instanceof Double d) {
            return d == Math.rint(d) && !Double.isInfinite(d) ? String.valueOf(d) : Double.toString(d);
        }
        if (v instanceof List<?> l) {
            StringBuilder sb = new StringBuilder("[");
            for (int i = 0; i < l.size(); i++) {
                sb.append(i == 0 ? "" : ", ").append(repr(l.get(i)));
            }
            return sb.append(']').toString();
        }
        if (v instanceof Map<?, ?> m) {
            StringBuilder sb = new StringBuilder("{");
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                sb.append(first ? "" : ", ").append(repr(e.getKey())).append(": ").append(repr(e.getValue()));
                first = false;
            }
            return sb.append('}').toString();
        }
        return String.valueOf(v);
    }

    static boolean equal(Object a, Object b) {
        if (a instanceof Number x && b instanceof Number y && !(a instanceof Boolean) && !(b instanceof Boolean)) {
            return x.doubleValue() == y.doubleValue();
        }
        if (a == UNDEFINED || b == UNDEFINED) {
            return a == b;
        }
        return java.util.Objects.equals(a, b);
    }

    static int compare(Object a, Object b, int offset) {
        if (a instanceof Number x && b instanceof Number y) {
            return Double.compare(x.doubleValue(), y.doubleValue());
        }
        if (a instanceof String x && b instanceof String y) {
            return x.compareTo(y);
        }
        throw new JinjaException("cannot compare " + typeName(a) + " with " + typeName(b), offset);
    }

    static String typeName(Object v) {
        if (v == null) {
            return "None";
        }
        if (v == UNDEFINED) {
            return "an undefined value";
        }
        if (v instanceof List) {
            return "list";
        }
        if (v instanceof Map) {
            return "dict";
        }
        return switch (v) {
            case String s -> "str";
            case Long l -> "int";
            case Double d -> "float";
            case Boolean b -> "bool";
            default -> v.getClass().getSimpleName();
        };
    }

    /** What a for loop walks: a list's items, a dict's keys, a string's characters; nothing for undefined/None. */
    static List<?> iterable(Object v, int offset) {
        if (v == null || v == UNDEFINED) {
            return List.of();
        }
        if (v instanceof List<?> l) {
            return l;
        }
        if (v instanceof Map<?, ?> m) {
            return List.copyOf(m.keySet());
        }
        if (v instanceof String s) {
            return s.codePoints().mapToObj(Character::toString).toList();
        }
        throw new JinjaException(typeName(v) + " is not iterable", offset);
    }

    /** json.dumps(v, ensure_ascii=False, indent=indent) with Python's default separators. */
    static String toJson(Object v, Integer indent) {
        StringBuilder sb = new StringBuilder();
        json(v, indent, 0, sb);
        return sb.toString();
    }

    private static void json(Object v, Integer indent, int depth, StringBuilder sb) {
        if (v == null || v == UNDEFINED) {
            sb.append("null");
        } else if (v instanceof Boolean b) {
            sb.append(b ? "true" : "false");
        } else if (v instanceof Long || v instanceof Double) {
            sb.append(v);
        } else if (v instanceof String s) {
            sb.append('"');
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                switch (c) {
                    case '"' -> sb.append("\\\"");
                    case '\\' -> sb.append("\\\\");
                    case '\n' -> sb.append("\\n");
                    case '\r' -> sb.append("\\r");
                    case '\t' -> sb.append("\\t");
                    case '\b' -> sb.append("\\b");
                    case '\f' -> sb.append("\\f");
                    default -> {
                        if (c < 0x20) {
                            sb.append(String.format("\\u%04x", (int) c));
                        } else {
                            sb.append(c);
                        }
                    }
                }
            }
            sb.append('"');
        } else if (v instanceof List<?> l) {
            container(l.iterator(), l.isEmpty(), '[', ']', indent, depth, sb, (item, out) -> json(item, indent, depth + 1, out));
        } else if (v instanceof Map<?, ?> m) {
            container(m.entrySet().iterator(), m.isEmpty(), '{', '}', indent, depth, sb, (item, out) -> {
                Map.Entry<?, ?> e = (Map.Entry<?, ?>) item;
                json(str(e.getKey()), indent, depth + 1, out);
                out.append(": ");
                json(e.getValue(), indent, depth + 1, out);
            });
        } else {
            json(str(v), indent, depth, sb);
        }
    }

    private static void container(Iterator<?> it, boolean empty, char open, char close, Integer indent, int depth, StringBuilder sb,
                                  java.util.function.BiConsumer<Object, StringBuilder> item) {
        sb.append(open);
        if (empty) {
            sb.append(close);
            return;
        }
        boolean first = true;
        while (it.hasNext()) {
            if (!first) {
                sb.append(indent == null ? ", " : ",");
            }
            if (indent != null) {
                sb.append('\n').append(" ".repeat(indent * (depth + 1)));
            }
            item.accept(it.next(), sb);
            first = false;
        }
        if (indent != null) {
            sb.append('\n').append(" ".repeat(indent * depth));
        }
        sb.append(close);
    }
}
