package moed.runtime.chat;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import moed.runtime.chat.JinjaLexer.Piece;
import moed.runtime.chat.JinjaLexer.Token;
import moed.runtime.chat.JinjaLexer.Type;

/**
 * Parses a Jinja template into a tree of {@link Node}s and {@link Expr}essions: the subset of Jinja that chat
 * templates use (output, if/elif/else, for with loop variables, else and an inline filter, set (also on namespace
 * attributes and as a block), macros, break/continue, Python-style expressions with filters, tests, calls, slices,
 * list and dict literals and the inline if/else).
 */
final class JinjaParser {
    sealed interface Expr {
    }

    record Literal(Object value) implements Expr {
    }

    record Name(String name, int offset) implements Expr {
    }

    record Attr(Expr target, String name) implements Expr {
    }

    record Index(Expr target, Expr index) implements Expr {
    }

    record Slice(Expr target, Expr start, Expr stop, Expr step) implements Expr {
    }

    record Call(Expr fn, List<Expr> args, Map<String, Expr> kwargs, int offset) implements Expr {
    }

    record Filter(Expr target, String name, List<Expr> args, Map<String, Expr> kwargs, int offset) implements Expr {
    }

    record Test(Expr target, String name, List<Expr> args, boolean negated, int offset) implements Expr {
    }

    record Unary(String op, Expr operand) implements Expr {
    }

    record Binary(String op, Expr left, Expr right, int offset) implements Expr {
    }

    record Conditional(Expr condition, Expr then, Expr otherwise) implements Expr {
    }

    record ListLiteral(List<Expr> items) implements Expr {
    }

    record DictLiteral(List<Expr> keys, List<Expr> values) implements Expr {
    }

    sealed interface Node {
    }

    record Text(String text) implements Node {
    }

    record Output(Expr value) implements Node {
    }

    record If(List<Expr> conditions, List<List<Node>> bodies, List<Node> otherwise) implements Node {
    }

    record For(List<String> targets, Expr iterable, Expr filter, List<Node> body, List<Node> otherwise) implements Node {
    }

    /** {@code set name = value} or {@code set ns.attr = value}; or a block set when value is null. */
    record SetValue(Expr target, Expr value, List<Node> block) implements Node {
    }

    record Macro(String name, List<String> params, List<Expr> defaults, List<Node> body) implements Node {
    }

    record LoopControl(boolean isBreak) implements Node {
    }

    private final List<Piece> pieces;
    private int at;

    private JinjaParser(List<Piece> pieces) {
        this.pieces = pieces;
    }

    static List<Node> parse(String template) {
        JinjaParser p = new JinjaParser(JinjaLexer.pieces(template));
        List<Node> body = p.nodes(Set.of());
        if (p.at < p.pieces.size()) {
            Piece extra = p.pieces.get(p.at);
            throw new JinjaException("unexpected '{% " + extra.body() + " %}'", extra.offset());
        }
        return body;
    }

    /** Nodes up to (not including) a statement whose first word is in {@code ends}. */
    private List<Node> nodes(Set<String> ends) {
        List<Node> out = new ArrayList<>();
        while (at < pieces.size()) {
            Piece piece = pieces.get(at);
            switch (piece.kind()) {
                case TEXT -> {
                    out.add(new Text(piece.body()));
                    at++;
                }
                case EXPRESSION -> {
                    Tokens t = new Tokens(JinjaLexer.tokens(piece.body(), piece.offset()));
                    out.add(new Output(t.expression()));
                    t.expectEnd();
                    at++;
                }
                case STATEMENT -> {
                    Tokens t = new Tokens(JinjaLexer.tokens(piece.body(), piece.offset()));
                    String word = t.peek().text();
                    if (ends.contains(word)) {
                        return out;
                    }
                    at++;
                    out.add(statement(word, t, piece));
                }
            }
        }
        if (!ends.isEmpty()) {
            throw new JinjaException("missing {% " + String.join(" / ", ends) + " %}", -1);
        }
        return out;
    }

    private Node statement(String word, Tokens t, Piece piece) {
        t.next();
        switch (word) {
            case "if" -> {
                List<Expr> conditions = new ArrayList<>();
                List<List<Node>> bodies = new ArrayList<>();
                conditions.add(t.expression());
                t.expectEnd();
                List<Node> otherwise = List.of();
                while (true) {
                    bodies.add(nodes(Set.of("elif", "else", "endif")));
                    Tokens end = closing();
                    String w = end.next().text();
                    if (w.equals("elif")) {
                        conditions.add(end.expression());
                        end.expectEnd();
                    } else if (w.equals("else")) {
                        end.expectEnd();
                        otherwise = nodes(Set.of("endif"));
                        closing();
                        break;
                    } else {
                        break;
                    }
                }
                return new If(conditions, bodies, otherwise);
            }
            case "for" -> {
                List<String> targets = new ArrayList<>();
                do {
                    targets.add(t.name());
                } while (t.accept(","));
                t.expectName("in");
                Expr iterable = t.expression(false);
                Expr filter = t.acceptName("if") ? t.expression(false) : null;
                t.acceptName("recursive");
                t.expectEnd();
                List<Node> body = nodes(Set.of("else", "endfor"));
                List<Node> otherwise = List.of();
                if (closing().peekWord("else")) {
                    otherwise = nodes(Set.of("endfor"));
                    closing();
                }
                return new For(targets, iterable, filter, body, otherwise);
            }
            case "set" -> {
                Expr target = new Name(t.name(), piece.offset());
                while (t.accept(".")) {
                    target = new Attr(target, t.name());
                }
                if (t.accept("=")) {
                    Expr value = t.expression();
                    t.expectEnd();
                    return new SetValue(target, value, null);
                }
                t.expectEnd();
                List<Node> block = nodes(Set.of("endset"));
                closing();
                return new SetValue(target, null, block);
            }
            case "macro" -> {
                String name = t.name();
                List<String> params = new ArrayList<>();
                List<Expr> defaults = new ArrayList<>();
                t.expect("(");
                while (!t.accept(")")) {
                    params.add(t.name());
                    defaults.add(t.accept("=") ? t.expression() : null);
                    t.accept(",");
                }
                t.expectEnd();
                List<Node> body = nodes(Set.of("endmacro"));
                closing();
                return new Macro(name, params, defaults, body);
            }
            case "break", "continue" -> {
                t.expectEnd();
                return new LoopControl(word.equals("break"));
            }
            case "generation" -> {
                // transformers' {% generation %} marks assistant text for training masks; it renders its body.
                t.expectEnd();
                List<Node> body = nodes(Set.of("endgeneration"));
                closing();
                return new If(List.of(new Literal(true)), List.of(body), List.of());
            }
            default -> throw new JinjaException("unsupported statement '{% " + word + " %}'", piece.offset());
        }
    }

    /** Consumes the statement that ended a block and returns its tokens (positioned at its first word). */
    private Tokens closing() {
        Piece piece = pieces.get(at++);
        return new Tokens(JinjaLexer.tokens(piece.body(), piece.offset()));
    }

    /** A cursor over one tag's tokens, with the expression grammar. */
    private static final class Tokens {
        private final List<Token> tokens;
        private int i;

        Tokens(List<Token> tokens) {
            this.tokens = tokens;
        }

        Token peek() {
            return tokens.get(i);
        }

        Token next() {
            return tokens.get(i++);
        }

        boolean peekWord(String w) {
            if (peek().type() == Type.NAME && peek().text().equals(w)) {
                next();
                expectEnd();
                return true;
            }
            return false;
        }

        boolean accept(String op) {
            if (peek().type() == Type.OPERATOR && peek().text().equals(op)) {
                i++;
                return true;
            }
            return false;
        }

        boolean acceptName(String n) {
            if (peek().type() == Type.NAME && peek().text().equals(n)) {
                i++;
                return true;
            }
            return false;
        }

        void expect(String op) {
            if (!accept(op)) {
                throw new JinjaException("expected '" + op + "', found '" + peek().text() + "'", peek().offset());
            }
        }

        void expectName(String n) {
            if (!acceptName(n)) {
                throw new JinjaException("expected '" + n + "', found '" + peek().text() + "'", peek().offset());
            }
        }

        void expectEnd() {
            if (peek().type() != Type.END) {
                throw new JinjaException("unexpected '" + peek().text() + "'", peek().offset());
            }
        }

        String name() {
            Token t = next();
            if (t.type() != Type.NAME) {
                throw new JinjaException("expected a name, found '" + t.text() + "'", t.offset());
            }
            return t.text();
        }

        Expr expression() {
            return expression(true);
        }

        /** withConditional false inside for-headers, where a trailing 'if' filters rather than chooses. */
        Expr expression(boolean withConditional) {
            Expr e = or();
            if (withConditional && acceptName("if")) {
                Expr condition = or();
                Expr otherwise = acceptName("else") ? expression() : new Literal(null);
                return new Conditional(condition, e, otherwise);
            }
            return e;
        }

        private Expr or() {
            Expr e = and();
            while (peek().is("or")) {
                int at = next().offset();
                e = new Binary("or", e, and(), at);
            }
            return e;
        }

        private Expr and() {
            Expr e = not();
            while (peek().is("and")) {
                int at = next().offset();
                e = new Binary("and", e, not(), at);
            }
            return e;
        }

        private Expr not() {
            if (peek().type() == Type.NAME && peek().text().equals("not")) {
                next();
                return new Unary("not", not());
            }
            return comparison();
        }

        private static final Set<String> COMPARISONS = Set.of("==", "!=", "<", ">", "<=", ">=");

        private Expr comparison() {
            Expr e = concat();
            while (true) {
                Token t = peek();
                if (t.type() == Type.OPERATOR && COMPARISONS.contains(t.text())) {
                    next();
                    e = new Binary(t.text(), e, concat(), t.offset());
                } else if (t.is("in")) {
                    next();
                    e = new Binary("in", e, concat(), t.offset());
                } else if (t.is("not") && tokens.get(i + 1).is("in")) {
                    i += 2;
                    e = new Unary("not", new Binary("in", e, concat(), t.offset()));
                } else if (t.is("is")) {
                    next();
                    boolean negated = acceptName("not");
                    String test = name();
                    List<Expr> args = new ArrayList<>();
                    if (accept("(")) {
                        args.addAll(arguments(new LinkedHashMap<>()));
                    } else if (startsOperand(peek())) {
                        args.add(concat());
                    }
                    e = new Test(e, test, args, negated, t.offset());
                } else {
                    return e;
                }
            }
        }

        /** Whether a token can start the single argument of a test written without parentheses (is divisibleby 3). */
        private static boolean startsOperand(Token t) {
            return t.type() == Type.INTEGER || t.type() == Type.FLOAT || t.type() == Type.STRING
                    || (t.type() == Type.NAME && !Set.of("and", "or", "if", "else", "not", "in", "is").contains(t.text()));
        }

        private Expr concat() {
            Expr e = additive();
            while (peek().type() == Type.OPERATOR && peek().text().equals("~")) {
                int at = next().offset();
                e = new Binary("~", e, additive(), at);
            }
            return e;
        }

        private Expr additive() {
            Expr e = multiplicative();
            while (peek().type() == Type.OPERATOR && (peek().text().equals("+") || peek().text().equals("-"))) {
                Token t = next();
                e = new Binary(t.text(), e, multiplicative(), t.offset());
            }
            return e;
        }

        private Expr multiplicative() {
            Expr e = unary();
            while (peek().type() == Type.OPERATOR && Set.of("*", "/", "//", "%").contains(peek().text())) {
                Token t = next();
                e = new Binary(t.text(), e, unary(), t.offset());
            }
            return e;
        }

        private Expr unary() {
            if (accept("-")) {
                return new Unary("-", unary());
            }
            if (accept("+")) {
                return unary();
            }
            Expr e = postfix(primary());
            if (peek().type() == Type.OPERATOR && peek().text().equals("**")) {
                int at = next().offset();
                return new Binary("**", e, unary(), at);
            }
            return e;
        }

        private Expr postfix(Expr e) {
            while (true) {
                Token t = peek();
                if (accept(".")) {
                    e = new Attr(e, name());
                } else if (accept("[")) {
                    e = subscript(e);
                } else if (accept("(")) {
                    Map<String, Expr> kwargs = new LinkedHashMap<>();
                    List<Expr> args = arguments(kwargs);
                    e = new Call(e, args, kwargs, t.offset());
                } else if (accept("|")) {
                    String filter = name();
                    Map<String, Expr> kwargs = new LinkedHashMap<>();
                    List<Expr> args = accept("(") ? arguments(kwargs) : List.of();
                    e = new Filter(e, filter, args, kwargs, t.offset());
                } else {
                    return e;
                }
            }
        }

        private Expr subscript(Expr target) {
            Expr start = null;
            if (!peek().is(":")) {
                start = expression();
                if (accept("]")) {
                    return new Index(target, start);
                }
            }
            expect(":");
            Expr stop = peek().is(":") || peek().is("]") ? null : expression();
            Expr step = null;
            if (accept(":")) {
                step = peek().is("]") ? null : expression();
            }
            expect("]");
            return new Slice(target, start, stop, step);
        }

        /** Call arguments after '(' up to ')': positional ones returned, keyword ones into kwargs. */
        private List<Expr> arguments(Map<String, Expr> kwargs) {
            List<Expr> args = new ArrayList<>();
            while (!accept(")")) {
                if (peek().type() == Type.NAME && tokens.get(i + 1).is("=")) {
                    String k = next().text();
                    next();
                    kwargs.put(k, expression());
                } else {
                    args.add(expression());
                }
                if (!accept(",")) {
                    expect(")");
                    break;
                }
            }
            return args;
        }

        private Expr primary() {
            Token t = next();
            switch (t.type()) {
                case STRING -> {
                    // Adjacent string literals concatenate, as in Python.
                    StringBuilder sb = new StringBuilder(t.text());
                    while (peek().type() == Type.STRING) {
                        sb.append(next().text());
                    }
                    return new Literal(sb.toString());
                }
                case INTEGER -> {
                    return new Literal(Long.parseLong(t.text()));
                }
                case FLOAT -> {
                    return new Literal(Double.parseDouble(t.text()));
                }
                case NAME -> {
                    return switch (t.text()) {
                        case "true", "True" -> new Literal(true);
                        case "false", "False" -> new Literal(false);
                        case "none", "None" -> new Literal(null);
                        default -> new Name(t.text(), t.offset());
                    };
                }
                case OPERATOR -> {
                    if (t.text().equals("(")) {
                        Expr e = expression();
                        if (accept(",")) { // a tuple: read as a list
                            List<Expr> items = new ArrayList<>(List.of(e));
                            while (!accept(")")) {
                                items.add(expression());
                                accept(",");
                            }
                            return new ListLiteral(items);
                        }
                        expect(")");
                        return e;
                    }
                    if (t.text().equals("[")) {
                        List<Expr> items = new ArrayList<>();
                        while (!accept("]")) {
                            items.add(expression());
                            if (!accept(",")) {
                                expect("]");
                                break;
                            }
                        }
                        return new ListLiteral(items);
                    }
                    if (t.text().equals("{")) {
                        List<Expr> keys = new ArrayList<>();
                        List<Expr> values = new ArrayList<>();
                        while (!accept("}")) {
                            keys.add(expression());
                            expect(":");
                            values.add(expression());
                            if (!accept(",")) {
                                expect("}");
                                break;
                            }
                        }
                        return new DictLiteral(keys, values);
                    }
                }
                default -> {
                }
            }
            throw new JinjaException(t.type() == Type.END ? "expression ends too early" : "unexpected '" + t.text() + "'", t.offset());
        }
    }
}
