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
        List<String> symbols = merge(word);
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

    /** A pair of adjacent symbols that a merge joins: its rank, and where and how long both halves were when found. */
    private record Candidate(int rank, int left, int right, int leftLength, int rightLength) {
    }

    /**
     * The word's symbols after every merge, lowest rank first and leftmost on ties, as llama.cpp does it: symbols in
     * a linked list, candidate pairs in a priority queue (rank, then position), a candidate skipped when either half
     * has changed since it was queued. Rescanning every pair after each merge, as this did before, took time
     * quadratic in the word's length: 21 s for one 40,000-character word, on the thread that tokenizes prompts.
     */
    private List<String> merge(String word) {
        int n = word.length();
        int[] start = new int[n];
        int[] length = new int[n];
        int[] prev = new int[n];
        int[] next = new int[n];
        for (int i = 0; i < n; i++) {
            start[i] = i;
            length[i] = 1;
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        java.util.PriorityQueue<Candidate> queue = new java.util.PriorityQueue<>((a, b) ->
                a.rank != b.rank ? Integer.compare(a.rank, b.rank) : Integer.compare(a.left, b.left));
        for (int i = 0; i + 1 < n; i++) {
            offer(word, i, i + 1, start, length, queue);
        }
        while (!queue.isEmpty()) {
            Candidate c = queue.poll();
            if (length[c.left] != c.leftLength || length[c.right] != c.rightLength || next[c.left] != c.right) {
                continue; // a half was merged into something else since
            }
            length[c.left] += length[c.right];
            length[c.right] = 0;
            next[c.left] = next[c.right];
            if (next[c.left] >= 0) {
                prev[next[c.left]] = c.left;
                offer(word, c.left, next[c.left], start, length, queue);
            }
            if (prev[c.left] >= 0) {
                offer(word, prev[c.left], c.left, start, length, queue);
            }
        }
        List<String> symbols = new ArrayList<>();
        for (int i = 0; i >= 0; i = next[i]) {
            symbols.add(word.substring(start[i], start[i] + length[i]));
        }
        return symbols;
    }

    private void offer(String word, int left, int right, int[] start, int[] length, java.util.PriorityQueue<Candidate> queue) {
        Integer rank = ranks.get(word.substring(start[left], start[left] + length[left]) + " "
                + word.substring(start[right], start[right] + length[right]));
        if (rank != null) {
            queue.add(new Candidate(rank, left, right, length[left], length[right]));
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
