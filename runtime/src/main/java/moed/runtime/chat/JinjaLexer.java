package moed.runtime.chat;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits a Jinja template into text and tags, and a tag's inside into tokens. Whitespace control follows the
 * environment Hugging Face renders chat templates in: {@code trim_blocks} (the first newline after a block or
 * comment tag is dropped), {@code lstrip_blocks} (spaces and tabs from the start of a line up to a block or comment
 * tag are dropped), and the explicit {@code -} markers, which strip all white space on their side.
 */
final class JinjaLexer {
    /** A piece of the template: literal text, an expression {{ }}, or a statement {% %}. */
    record Piece(Kind kind, String body, int offset) {
    }

    enum Kind {
        TEXT, EXPRESSION, STATEMENT
    }

    /** A token inside a tag. */
    record Token(Type type, String text, int offset) {
        boolean is(String s) {
            return (type == Type.OPERATOR || type == Type.NAME) && text.equals(s);
        }
    }

    enum Type {
        NAME, STRING, INTEGER, FLOAT, OPERATOR, END
    }

    private JinjaLexer() {
    }

    static List<Piece> pieces(String src) {
        List<Piece> out = new ArrayList<>();
        int i = 0;
        boolean trimNextNewline = false;
        boolean stripNextWhitespace = false;
        while (i < src.length()) {
            int open = nextTagStart(src, i);
            String text = src.substring(i, open < 0 ? src.length() : open);
            if (stripNextWhitespace) {
                text = text.stripLeading();
            } else if (trimNextNewline && text.startsWith("\n")) {
                text = text.substring(1);
            } else if (trimNextNewline && text.startsWith("\r\n")) {
                text = text.substring(2);
            }
            if (open < 0) {
                add(out, text, i);
                break;
            }
            char kind = src.charAt(open + 1);
            boolean minusLeft = open + 2 < src.length() && src.charAt(open + 2) == '-';
            boolean plusLeft = open + 2 < src.length() && src.charAt(open + 2) == '+';
            String close = kind == '{' ? "}}" : kind == '%' ? "%}" : "#}";
            int end = src.indexOf(close, open + 2);
            if (end < 0) {
                throw new JinjaException("unclosed '{" + kind + "' tag", open);
            }
            boolean minusRight = src.charAt(end - 1) == '-' && end - 1 >= open + 2;
            if (minusLeft) {
                text = text.stripTrailing();
            } else if (kind != '{' && !plusLeft) {
                text = lstripBlock(text);
            }
            add(out, text, i);
            int bodyStart = open + 2 + (minusLeft || plusLeft ? 1 : 0);
            int bodyEnd = minusRight ? end - 1 : end;
            String body = src.substring(Math.min(bodyStart, bodyEnd), bodyEnd).strip();
            if (kind == '{') {
                out.add(new Piece(Kind.EXPRESSION, body, open));
            } else if (kind == '%') {
                out.add(new Piece(Kind.STATEMENT, body, open));
            }
            stripNextWhitespace = minusRight;
            trimNextNewline = kind != '{';
            i = end + 2;
        }
        return out;
    }

    private static void add(List<Piece> out, String text, int offset) {
        if (!text.isEmpty()) {
            out.add(new Piece(Kind.TEXT, text, offset));
        }
    }

    private static int nextTagStart(String s, int from) {
        for (int i = s.indexOf('{', from); i >= 0 && i + 1 < s.length(); i = s.indexOf('{', i + 1)) {
            char c = s.charAt(i + 1);
            if (c == '{' || c == '%' || c == '#') {
                return i;
            }
        }
        return -1;
    }

    /** lstrip_blocks: drop spaces and tabs between the last line break (or the start) and a block tag. */
    private static String lstripBlock(String text) {
        int j = text.length();
        while (j > 0 && (text.charAt(j - 1) == ' ' || text.charAt(j - 1) == '\t')) {
            j--;
        }
        return j == 0 || text.charAt(j - 1) == '\n' ? text.substring(0, j) : text;
    }

    private static final String[] OPERATORS = {"**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=",
            "(", ")", "[", "]", "{", "}", ",", ".", ":", "|"};

    /** The tokens of a tag's inside; {@code base} is the tag's offset in the template, for messages. */
    static List<Token> tokens(String s, int base) {
        List<Token> out = new ArrayList<>();
        int i = 0;
        while (i < s.length()) {
            char c = s.charAt(i);
            if (Character.isWhitespace(c)) {
                i++;
            } else if (Character.isLetter(c) || c == '_') {
                int j = i;
                while (j < s.length() && (Character.isLetterOrDigit(s.charAt(j)) || s.charAt(j) == '_')) {
                    j++;
                }
                out.add(new Token(Type.NAME, s.substring(i, j), base + i));
                i = j;
            } else if (Character.isDigit(c)) {
                int j = i;
                while (j < s.length() && Character.isDigit(s.charAt(j))) {
                    j++;
                }
                boolean fraction = j + 1 < s.length() && s.charAt(j) == '.' && Character.isDigit(s.charAt(j + 1));
                if (fraction) {
                    j++;
                    while (j < s.length() && Character.isDigit(s.charAt(j))) {
                        j++;
                    }
                }
                out.add(new Token(fraction ? Type.FLOAT : Type.INTEGER, s.substring(i, j), base + i));
                i = j;
            } else if (c == '\'' || c == '"') {
                StringBuilder sb = new StringBuilder();
                int j = i + 1;
                while (j < s.length() && s.charAt(j) != c) {
                    char d = s.charAt(j);
                    if (d == '\\' && j + 1 < s.length()) {
                        char e = s.charAt(++j);
                        switch (e) {
                            case 'n' -> sb.append('\n');
                            case 't' -> sb.append('\t');
                            case 'r' -> sb.append('\r');
                            case 'u' -> {
                                sb.append((char) Integer.parseInt(s.substring(j + 1, j + 5), 16));
                                j += 4;
                            }
                            default -> sb.append(e);
                        }
                    } else {
                        sb.append(d);
                    }
                    j++;
                }
                if (j >= s.length()) {
                    throw new JinjaException("unterminated string", base + i);
                }
                out.add(new Token(Type.STRING, sb.toString(), base + i));
                i = j + 1;
            } else {
                String op = null;
                for (String o : OPERATORS) {
                    if (s.startsWith(o, i)) {
                        op = o;
                        break;
                    }
                }
                if (op == null) {
                    throw new JinjaException("unexpected character '" + c + "'", base + i);
                }
                out.add(new Token(Type.OPERATOR, op, base + i));
                i += op.length();
            }
        }
        out.add(new Token(Type.END, "", base + s.length()));
        return out;
    }
}
