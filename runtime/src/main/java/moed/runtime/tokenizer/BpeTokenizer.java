package moed.runtime.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * GPT-2 byte-level BPE ({@code tokenizer.ggml.model = gpt2}), as llama.cpp's llm_tokenizer_bpe applies it: special
 * tokens are cut out first, the pre-tokenizer named by {@code tokenizer.ggml.pre} splits the rest into words, each
 * word's UTF-8 bytes become byte-level characters ({@link ByteLevel}), and within a word adjacent symbols are
 * merged by the rank of their pair in {@code tokenizer.ggml.merges} (lowest rank first, leftmost on ties) until no
 * ranked pair is left. A symbol that is not a token is spelt with its characters' single-byte tokens.
 */
public final class BpeTokenizer implements Tokenizer {
    private final Vocabulary v;
    private final PreTokenizer pre;
    private final Map<String, Integer> ranks;
    private final SpecialTokens specials;
    private final byte[][] pieces;
    /** Llama 3's tokenizer takes a word that is itself a token whole, whatever the merges would make of it. */
    private final boolean ignoreMerges;

    /** @param merges the merge list, each "left right" in byte-level text, highest priority first */
    public BpeTokenizer(Vocabulary v, List<String> merges, PreTokenizer pre) {
        this.v = v;
        this.pre = pre;
        this.ranks = new HashMap<>(merges.size() * 2);
        for (int i = 0; i < merges.size(); i++) {
            ranks.putIfAbsent(merges.get(i), i);
        }
        this.specials = new SpecialTokens(v);
        this.ignoreMerges = pre.name().equals("llama-bpe");
        this.pieces = new byte[v.size()][];
        for (int id = 0; id < v.size(); id++) {
            pieces[id] = piece(id);
        }
    }

    @Override
    public Vocabulary vocabulary() {
        return v;
    }

    public PreTokenizer preTokenizer() {
        return pre;
    }

    @Override
    public int[] encode(String text, boolean addBos, boolean parseSpecial) {
        List<Integer> out = new ArrayList<>();
        if (addBos && v.bos >= 0) {
            out.add(v.bos);
        }
        for (SpecialTokens.Fragment f : specials.partition(Utf8.wellFormed(text), parseSpecial)) {
            if (f.text() == null) {
                out.add(f.token());
                continue;
            }
            for (String word : pre.split(f.text())) {
                bpe(ByteLevel.encode(word.getBytes(StandardCharsets.UTF_8)), out);
            }
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Merges one word's symbols and appends their ids. */
    private void bpe(String word, List<Integer> out) {
        int whole = v.id(word);
        if (whole >= 0 && (ignoreMerges || word.length() == 1)) {
            out.add(whole);
            return;
        }
        List<String> symbols = new ArrayList<>(word.length());
        for (int i = 0; i < word.length(); i++) {
            symbols.add(String.valueOf(word.charAt(i)));
        }
        while (symbols.size() > 1) {
            int best = -1;
            int bestRank = Integer.MAX_VALUE;
            for (int i = 0; i + 1 < symbols.size(); i++) {
                Integer r = ranks.get(symbols.get(i) + " " + symbols.get(i + 1));
                if (r != null && r < bestRank) {
                    bestRank = r;
                    best = i;
                }
            }
            if (best < 0) {
                break;
            }
            // Merging one occurrence at a time, leftmost first, gives what merging all occurrences of the pair in
            // one pass gives: every merge that uses the new symbol ranks after the merge that made it.
            symbols.set(best, symbols.get(best) + symbols.remove(best + 1));
        }
        for (String s : symbols) {
            int id = v.id(s);
            if (id >= 0) {
                out.add(id);
                continue;
            }
            for (int i = 0; i < s.length(); i++) {
                int c = v.id(String.valueOf(s.charAt(i)));
                if (c >= 0) {
                    out.add(c);
                }
            }
        }
    }

    @Override
    public byte[] pieceBytes(int id) {
        return pieces[id];
    }

    private byte[] piece(int id) {
        String t = v.token(id);
        return switch (v.type(id)) {
            case Vocabulary.CONTROL, Vocabulary.UNUSED, Vocabulary.UNKNOWN -> new byte[0];
            case Vocabulary.USER_DEFINED -> t.getBytes(StandardCharsets.UTF_8);
            default -> {
                byte[] b = ByteLevel.decode(t);
                yield b != null ? b : t.getBytes(StandardCharsets.UTF_8);
            }
        };
    }
}
