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

    /**
     * DeepSeek LLM's letter class (its own list of cased letters, not {@code \p{L}}), as the ranges inside its brackets,
     * written as code points: Unicode normalisation of the source would change several of them (the Ohm and Kelvin
     * signs, Greek letters with oxia).
     */
    public static final String DEEPSEEK_LLM_LETTERS = "A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}\\x{1C4}-\\x{293}"
            + "\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}\\x{37F}\\x{386}\\x{388}-"
            + "\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-"
            + "\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-"
            + "\\x{1CBF}\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-"
            + "\\x{1F1D}\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}"
            + "\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-"
            + "\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-"
            + "\\x{1FFC}\\x{2102}\\x{2107}\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}"
            + "\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}"
            + "\\x{214E}\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}"
            + "\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}\\x{A78B}-"
            + "\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-"
            + "\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}"
            + "\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}";

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
            // DeepSeek LLM and DeepSeek-V2/V2-Lite: line breaks alone, then runs of (cased) letters and of ASCII and
            // full-width punctuation, each with one optional leading space, trailing white space, CJK/Hangul runs,
            // digit runs. The letter class is DeepSeek's own list (DEEPSEEK_LLM_LETTERS). ($ of the original is the end of the piece: \z, since Java's $ would also match
            // before a final line break.)
            "deepseek-llm", List.of(
                    "[\r\n]",
                    "\\s?[" + DEEPSEEK_LLM_LETTERS + "]+",
                    "\\s?[!-/:-~！-／：-～‘-‟　-。]+",
                    "\\s+\\z",
                    "[一-龥ࠀ-一가-퟿]+",
                    "\\p{N}+"),
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
