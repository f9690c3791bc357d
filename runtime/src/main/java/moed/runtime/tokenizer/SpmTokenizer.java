package moed.runtime.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * SentencePiece-style BPE as llama.cpp's {@code llm_tokenizer_spm} applies it: spaces become U+2581, a space
 * is prefixed to the text (and to each run of it after a special token), the text is split into UTF-8 characters, and adjacent symbols are merged greedily
 * by the score of the merged token (highest first, leftmost on ties) while the merge is a vocabulary token.
 * Symbols that end up outside the vocabulary are undone into their merge parts, and finally into byte tokens
 * ({@code <0xXX>}) by byte fallback.
 */
public final class SpmTokenizer implements Tokenizer {
    private static final String SPACE = "\u2581";

    private final Vocabulary v;
    private final int[] byteTokens = new int[256];
    private final byte[][] pieces;
    private final SpecialTokens specials;

    SpmTokenizer(Vocabulary v) {
        this.v = v;
        for (int b = 0; b < 256; b++) {
            byteTokens[b] = v.id(String.format("<0x%02X>", b));
        }
        specials = new SpecialTokens(v);
        pieces = new byte[v.size()][];
        for (int i = 0; i < v.size(); i++) {
            pieces[i] = piece(i);
        }
    }

    @Override
    public Vocabulary vocabulary() {
        return v;
    }

    @Override
    public int[] encode(String text, boolean addBos, boolean parseSpecial) {
        List<Integer> out = new ArrayList<>();
        if (addBos && v.bos >= 0) {
            out.add(v.bos);
        }
        // As llama.cpp: the space prefix goes before the text and after each special token found in it (so
        // "<s>[INST]" gives <s> "▁[" ...), which is also what Llama-2's tokenizer.json does, normalizing each run of
        // text between special tokens on its own.
        boolean afterSpecial = true;
        for (SpecialTokens.Fragment f : specials.partition(Utf8.wellFormed(text), parseSpecial)) {
            if (f.text() == null) {
                out.add(f.token());
                afterSpecial = true;
            } else if (!f.text().isEmpty()) {
                String s = (v.addSpacePrefix && afterSpecial ? " " : "") + f.text();
                bpe(s.replace(" ", SPACE).getBytes(StandardCharsets.UTF_8), out);
                afterSpecial = false;
            }
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    private static final class Symbol {
        int start;
        int len;
        int prev;
        int next;
    }

    private record Bigram(int left, int right, float score, int size) {
    }

    private void bpe(byte[] text, List<Integer> out) {
        List<Symbol> symbols = new ArrayList<>();
        for (int off = 0; off < text.length; ) {
            Symbol sym = new Symbol();
            sym.start = off;
            sym.len = Math.min(utf8Length(text[off]), text.length - off);
            sym.prev = symbols.size() - 1;
            off += sym.len;
            sym.next = off == text.length ? -1 : symbols.size() + 1;
            symbols.add(sym);
        }
        PriorityQueue<Bigram> queue = new PriorityQueue<>((a, b) -> a.score != b.score
                ? Float.compare(b.score, a.score) : Integer.compare(a.left, b.left));
        Map<String, int[]> revMerge = new HashMap<>();
        for (int i = 1; i < symbols.size(); i++) {
            tryAddBigram(text, symbols, i - 1, i, queue, revMerge);
        }
        while (!queue.isEmpty()) {
            Bigram b = queue.poll();
            Symbol left = symbols.get(b.left);
            Symbol right = symbols.get(b.right);
            // Skip pairs whose symbols were merged away since the pair was queued.
            if (left.len == 0 || right.len == 0 || left.len + right.len != b.size) {
                continue;
            }
            left.len += right.len;
            right.len = 0;
            left.next = right.next;
            if (right.next >= 0) {
                symbols.get(right.next).prev = b.left;
            }
            tryAddBigram(text, symbols, left.prev, b.left, queue, revMerge);
            tryAddBigram(text, symbols, b.left, left.next, queue, revMerge);
        }
        for (int i = 0; i != -1 && !symbols.isEmpty(); i = symbols.get(i).next) {
            resegment(text, symbols, symbols.get(i), revMerge, out);
        }
    }

    private void tryAddBigram(byte[] text, List<Symbol> symbols, int left, int right, PriorityQueue<Bigram> queue,
                              Map<String, int[]> revMerge) {
        if (left == -1 || right == -1) {
            return;
        }
        Symbol l = symbols.get(left);
        Symbol r = symbols.get(right);
        String merged = new String(text, l.start, l.len + r.len, StandardCharsets.UTF_8);
        int id = v.id(merged);
        if (id < 0) {
            return;
        }
        queue.add(new Bigram(left, right, v.scores[id], l.len + r.len));
        revMerge.put(merged, new int[] {left, right});
    }

    private void resegment(byte[] text, List<Symbol> symbols, Symbol sym, Map<String, int[]> revMerge, List<Integer> out) {
        String s = new String(text, sym.start, sym.len, StandardCharsets.UTF_8);
        int id = v.id(s);
        if (id >= 0) {
            out.add(id);
            return;
        }
        int[] parts = revMerge.get(s);
        if (parts == null) {
            for (int j = 0; j < sym.len; j++) {
                int t = byteTokens[text[sym.start + j] & 0xFF];
                out.add(t >= 0 ? t : v.unk);
            }
            return;
        }
        resegment(text, symbols, symbols.get(parts[0]), revMerge, out);
        resegment(text, symbols, symbols.get(parts[1]), revMerge, out);
    }

    private static int utf8Length(byte first) {
        int b = first & 0xFF;
        if (b < 0x80) {
            return 1;
        }
        if ((b & 0xE0) == 0xC0) {
            return 2;
        }
        if ((b & 0xF0) == 0xE0) {
            return 3;
        }
        if ((b & 0xF8) == 0xF0) {
            return 4;
        }
        return 1;
    }

    @Override
    public byte[] pieceBytes(int id) {
        if (id < 0 || id >= pieces.length) {
            throw new IllegalArgumentException("token id " + id + " is outside the vocabulary of " + pieces.length);
        }
        return pieces[id];
    }

    // llama.cpp's token_to_piece for SPM: normal tokens with U+2581 shown as spaces, byte tokens as their byte,
    // the unknown token as " \u2047 ", control tokens as nothing.
    private byte[] piece(int id) {
        String t = v.tokens[id];
        switch (v.types[id]) {
            case Vocabulary.BYTE -> {
                if (t.length() == 6 && t.startsWith("<0x") && t.endsWith(">")) {
                    return new byte[] {(byte) Integer.parseInt(t.substring(3, 5), 16)};
                }
                return t.getBytes(StandardCharsets.UTF_8);
            }
            case Vocabulary.CONTROL, Vocabulary.UNUSED -> {
                return new byte[0];
            }
            case Vocabulary.UNKNOWN -> {
                return " \u2047 ".getBytes(StandardCharsets.UTF_8);
            }
            default -> {
                return t.replace(SPACE, " ").getBytes(StandardCharsets.UTF_8);
            }
        }
    }
}
