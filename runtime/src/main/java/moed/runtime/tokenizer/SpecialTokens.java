package moed.runtime.tokenizer;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Finds special tokens written out in text (as llama.cpp's tokenizer_st_partition does): user-defined tokens
 * always, control tokens ({@code <|im_start|>}, {@code <|endoftext|>} ...) only when the caller asks for them,
 * since text a user typed must not be able to forge them. Longer tokens are matched first.
 */
final class SpecialTokens {
    /** A run of text to tokenize normally, or one special token (text null). */
    record Fragment(String text, int token) {
    }

    private final List<Integer> control = new ArrayList<>();
    private final List<Integer> userDefined = new ArrayList<>();
    private final Vocabulary v;

    SpecialTokens(Vocabulary v) {
        this.v = v;
        for (int id = 0; id < v.size(); id++) {
            if (v.token(id).isEmpty()) {
                continue;
            }
            if (v.type(id) == Vocabulary.CONTROL) {
                control.add(id);
            } else if (v.type(id) == Vocabulary.USER_DEFINED) {
                userDefined.add(id);
            }
        }
        Comparator<Integer> longestFirst = Comparator.comparingInt((Integer id) -> -v.token(id).length());
        control.sort(longestFirst);
        userDefined.sort(longestFirst);
    }

    List<Fragment> partition(String text, boolean parseSpecial) {
        List<Fragment> out = new ArrayList<>();
        out.add(new Fragment(text, -1));
        List<Integer> all = new ArrayList<>(userDefined);
        if (parseSpecial) {
            all.addAll(control);
            all.sort(Comparator.comparingInt((Integer id) -> -v.token(id).length()));
        }
        for (int id : all) {
            String tok = v.token(id);
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
