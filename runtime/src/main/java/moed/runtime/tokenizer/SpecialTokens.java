package moed.runtime.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Finds special tokens written out in text (as llama.cpp's tokenizer_st_partition does): user-defined tokens
 * always, control tokens ({@code <|im_start|>}, {@code <|endoftext|>} ...) and the unknown token ({@code <unk>})
 * only when the caller asks for them, since text a user typed must not be able to forge them. Longer tokens (in
 * UTF-8 bytes, as llama.cpp measures them) are matched first.
 */
final class SpecialTokens {
    /** A run of text to tokenize normally, or one special token (text null). */
    record Fragment(String text, int token) {
    }

    /** User-defined tokens, and user-defined plus control and unknown tokens: each longest first. */
    private final List<String> userDefined = new ArrayList<>();
    private final List<String> all = new ArrayList<>();
    private final java.util.Map<String, Integer> ids = new java.util.HashMap<>();

    SpecialTokens(Vocabulary v) {
        for (int id = 0; id < v.size(); id++) {
            String t = v.token(id);
            int type = v.type(id);
            boolean userDefinedType = type == Vocabulary.USER_DEFINED;
            if (t.isEmpty() || !(userDefinedType || type == Vocabulary.CONTROL || type == Vocabulary.UNKNOWN)
                    || ids.putIfAbsent(t, id) != null) {
                continue;
            }
            all.add(t);
            if (userDefinedType) {
                userDefined.add(t);
            }
        }
        Comparator<String> longestFirst = Comparator.comparingInt((String t) -> t.getBytes(StandardCharsets.UTF_8).length).reversed();
        userDefined.sort(longestFirst);
        all.sort(longestFirst);
    }

    List<Fragment> partition(String text, boolean parseSpecial) {
        List<Fragment> out = new ArrayList<>();
        out.add(new Fragment(text, -1));
        for (String tok : parseSpecial ? all : userDefined) {
            int id = ids.get(tok);
            List<Fragment> next = new ArrayList<>();
            for (Fragment f : out) {
                if (f.text == null) {
                    next.add(f);
                    continue;
                }
                int from = 0;
                for (int at; (at = f.text.indexOf(tok, from)) >= 0; from = at + tok.length()) {
                    if (at > from) {
                        next.add(new Fragment(f.text.substring(from, at), -1));
                    }
                    next.add(new Fragment(null, id));
                }
                if (from < f.text.length()) {
                    next.add(new Fragment(f.text.substring(from), -1));
                }
            }
            out = next;
        }
        return out;
    }
}
