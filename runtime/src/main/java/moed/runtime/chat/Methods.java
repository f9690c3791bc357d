package moed.runtime.chat;

import static moed.runtime.chat.PyValues.str;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** The Python str, dict and list methods chat templates call ({@code content.startswith('<think>')}, {@code m.get('x')}). */
final class Methods {
    private Methods() {
    }

    static Object call(Object target, String name, List<Object> a, Map<String, Object> kw, int offset) {
        if (target instanceof String s) {
            return string(s, name, a, offset);
        }
        if (target instanceof Map<?, ?> m) {
            switch (name) {
                case "get" -> {
                    String k = str(a.get(0));
                    return m.containsKey(k) ? m.get(k) : a.size() > 1 ? a.get(1) : null;
                }
                case "items" -> {
                    List<Object> out = new ArrayList<>();
                    m.forEach((k, v) -> out.add(java.util.Arrays.asList(k, v)));
                    return out;
                }
                case "keys" -> {
                    return new ArrayList<>(m.keySet());
                }
                case "values" -> {
                    return new ArrayList<>(m.values());
                }
                default -> {
                }
            }
        }
        if (target instanceof List<?> l) {
            switch (name) {
                case "index" -> {
                    return (long) l.indexOf(a.get(0));
                }
                case "count" -> {
                    return l.stream().filter(x -> PyValues.equal(x, a.get(0))).count();
                }
                default -> {
                }
            }
        }
        throw new JinjaException(PyValues.typeName(target) + " has no method '" + name + "' that moed's chat templates know", offset);
    }

    private static Object string(String s, String name, List<Object> a, int offset) {
        return switch (name) {
            case "startswith" -> anyOf(a.get(0), s::startsWith);
            case "endswith" -> anyOf(a.get(0), s::endsWith);
            case "strip" -> a.isEmpty() || a.get(0) == null ? s.strip() : stripChars(stripChars(s, str(a.get(0)), true), str(a.get(0)), false);
            case "lstrip" -> a.isEmpty() || a.get(0) == null ? s.stripLeading() : stripChars(s, str(a.get(0)), true);
            case "rstrip" -> a.isEmpty() || a.get(0) == null ? s.stripTrailing() : stripChars(s, str(a.get(0)), false);
            case "split" -> split(s, a.isEmpty() ? null : a.get(0), a.size() > 1 ? ((Number) a.get(1)).intValue() : -1);
            case "replace" -> s.replace(str(a.get(0)), str(a.get(1)));
            case "upper" -> s.toUpperCase(java.util.Locale.ROOT);
            case "lower" -> s.toLowerCase(java.util.Locale.ROOT);
            case "capitalize" -> s.isEmpty() ? s : s.substring(0, 1).toUpperCase(java.util.Locale.ROOT)
                    + s.substring(1).toLowerCase(java.util.Locale.ROOT);
            case "title" -> title(s);
            case "find" -> (long) s.indexOf(str(a.get(0)));
            case "count" -> (long) (s.isEmpty() ? 0 : s.split(java.util.regex.Pattern.quote(str(a.get(0))), -1).length - 1);
            case "format" -> s; // not used with arguments by chat templates moed has met
            default -> throw new JinjaException("str has no method '" + name + "' that moed's chat templates know", offset);
        };
    }

    /** startswith/endswith take one string or a tuple (list) of them. */
    private static boolean anyOf(Object arg, java.util.function.Predicate<String> test) {
        if (arg instanceof List<?> l) {
            return l.stream().anyMatch(x -> test.test(str(x)));
        }
        return test.test(str(arg));
    }

    private static String stripChars(String s, String chars, boolean leading) {
        int from = 0;
        int to = s.length();
        if (leading) {
            while (from < to && chars.indexOf(s.charAt(from)) >= 0) {
                from++;
            }
        } else {
            while (to > from && chars.indexOf(s.charAt(to - 1)) >= 0) {
                to--;
            }
        }
        return s.substring(from, to);
    }

    /** Python's str.split: on runs of white space (dropping empty parts) without a separator, else exactly. */
    private static List<Object> split(String s, Object sep, int max) {
        List<Object> out = new ArrayList<>();
        if (sep == null) {
            String rest = s.strip();
            while (!rest.isEmpty()) {
                if (max >= 0 && out.size() == max) {
                    out.add(rest);
                    return out;
                }
                int ws = 0;
                while (ws < rest.length() && !Character.isWhitespace(rest.charAt(ws))) {
                    ws++;
                }
                out.add(rest.substring(0, ws));
                rest = rest.substring(ws).stripLeading();
            }
            return out;
        }
        String d = str(sep);
        int from = 0;
        while (true) {
            int at = max >= 0 && out.size() == max ? -1 : s.indexOf(d, from);
            if (at < 0) {
                out.add(s.substring(from));
                return out;
            }
            out.add(s.substring(from, at));
            from = at + d.length();
        }
    }

    private static String title(String s) {
        StringBuilder sb = new StringBuilder();
        boolean start = true;
        for (char c : s.toCharArray()) {
            sb.append(start ? Character.toUpperCase(c) : Character.toLowerCase(c));
            start = !Character.isLetter(c);
        }
        return sb.toString();
    }
}
