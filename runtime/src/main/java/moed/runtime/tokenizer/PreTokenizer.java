package moed.runtime.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splits text into the words BPE merges within, by the regular expressions that {@code tokenizer.ggml.pre} names,
 * as llama.cpp applies them: each expression in turn splits every piece the previous ones left, and both the
 * matches and the text between them become pieces. The expressions are the originals from the models'
 * tokenizer.json files (Java's regex engine has the Unicode classes, {@code (?i:)} and lookahead they use), with
 * {@code \s} as Unicode white space. Contractions are spelt with explicit case pairs rather than {@code (?i:)}, as
 * llama.cpp does: Java's Unicode case folding would otherwise let 'ſ' (long s) match 's'.
 */
public final class PreTokenizer {
    private static final String CONTRACTIONS = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";

    /** Pre-tokenizer names (as llama.cpp's converter writes them) and their expressions, applied in order. */
    private static final Map<String, List<String>> EXPRESSIONS = Map.of(
            // GPT-2 itself, and the models that kept its expression (OLMo/OLMoE, MPT).
            "gpt2", List.of("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"),
            // llama.cpp's fallback for a BPE file without a known tokenizer.ggml.pre: punctuation runs first, GPT-2's
            // expression, digit runs, then digits in threes.
            "default", List.of("[\\p{P}\\$\\+<=>\\^~\\|]+",
                    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
                    "\\p{N}+", "[0-9][0-9][0-9]"),
            // Qwen1.5/2/3: single digits.
            "qwen2", List.of(CONTRACTIONS + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"),
            // Llama 3 (and DBRX, Smaug): digits in runs of up to three.
            "llama-bpe", List.of(CONTRACTIONS + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"),
            // DeepSeek-V3 (and V2-Lite's newer conversions): digit runs, then CJK runs, then the rest.
            "deepseek-v3", List.of(
                    "\\p{N}{1,3}",
                    "[一-龥぀-ゟ゠-ヿ]+",
                    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"),
            // GPT-4o / o200k (gpt-oss): case-aware words with contractions attached, digit runs of up to three.
            "gpt-4o", List.of(
                    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+" + CONTRACTIONS + "?"
                            + "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*" + CONTRACTIONS + "?"
                            + "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"));

    /** Other names llama.cpp maps onto the same expressions. */
    private static final Map<String, String> ALIASES = Map.of(
            "olmo", "gpt2", "mpt", "gpt2", "stablelm2", "qwen2", "dbrx", "llama-bpe",
            "smaug-bpe", "llama-bpe", "llama3", "llama-bpe", "deepseek-v3-llm", "deepseek-v3", "o200k", "gpt-4o");

    private final String name;
    private final List<Pattern> patterns;

    private PreTokenizer(String name, List<Pattern> patterns) {
        this.name = name;
        this.patterns = patterns;
    }

    /** The pre-tokenizer of this {@code tokenizer.ggml.pre} name; an unknown name names the known ones. */
    public static PreTokenizer named(String pre) {
        String key = ALIASES.getOrDefault(pre, pre);
        List<String> exprs = EXPRESSIONS.get(key);
        if (exprs == null) {
            throw new IllegalArgumentException("BPE pre-tokenizer '" + pre + "' is not supported by moed yet; supported: "
                    + String.join(", ", new java.util.TreeSet<>(EXPRESSIONS.keySet())) + " (and aliases "
                    + String.join(", ", new java.util.TreeSet<>(ALIASES.keySet())) + ")");
        }
        List<Pattern> ps = new ArrayList<>();
        for (String e : exprs) {
            ps.add(Pattern.compile(e, Pattern.UNICODE_CHARACTER_CLASS));
        }
        return new PreTokenizer(key, List.copyOf(ps));
    }

    public String name() {
        return name;
    }

    /** The text's words, in order; concatenated they give the text back. */
    public List<String> split(String text) {
        List<String> pieces = List.of(text);
        for (Pattern p : patterns) {
            List<String> next = new ArrayList<>();
            for (String piece : pieces) {
                Matcher m = p.matcher(piece);
                int last = 0;
                while (m.find()) {
                    if (m.end() == m.start()) {
                        continue;
                    }
                    if (m.start() > last) {
                        next.add(piece.substring(last, m.start()));
                    }
                    next.add(m.group());
                    last = m.end();
                }
                if (last < piece.length()) {
                    next.add(piece.substring(last));
                }
            }
            pieces = next;
        }
        return pieces;
    }
}
