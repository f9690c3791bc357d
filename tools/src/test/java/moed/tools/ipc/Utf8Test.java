package moed.tools.ipc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import org.agrona.ExpandableArrayBuffer;
import org.junit.jupiter.api.Test;

/** The allocation-free encoder writes exactly the bytes of {@code String.getBytes(UTF_8)}. */
class Utf8Test {
    static void same(String s) {
        ExpandableArrayBuffer b = new ExpandableArrayBuffer(8); // small: longer strings make it grow
        int n = Utf8.encode(s, b, 5);
        byte[] got = new byte[n];
        b.getBytes(5, got);
        assertArrayEquals(s.getBytes(StandardCharsets.UTF_8), got,
                () -> s.chars().mapToObj(Integer::toHexString).toList().toString());
    }

    @Test
    void everyRangeAndUnpairedSurrogatesEncodeAsTheJdkDoes() {
        same("");
        same("plain ascii\n\t\u0000\u007f");
        same("\u0080\u07ff é ß");
        same("\u0800\uffff ✓ 語");
        same("🌊 \ud83d\ude00");
        same("\ud83d"); // a high surrogate at the end
        same("\ude00x"); // a low surrogate alone
        same("\ud83d\ud83d\ude00"); // a high surrogate before a pair
    }

    @Test
    void randomCharactersEncodeAsTheJdkDoes() {
        SplittableRandom rnd = new SplittableRandom(18);
        for (int i = 0; i < 2000; i++) {
            char[] c = new char[rnd.nextInt(0, 12)];
            for (int j = 0; j < c.length; j++) {
                // Mostly the interesting edges: ASCII, two and three bytes, surrogates of both kinds.
                c[j] = switch (rnd.nextInt(5)) {
                    case 0 -> (char) rnd.nextInt(0x80);
                    case 1 -> (char) rnd.nextInt(0x80, 0x800);
                    case 2 -> (char) rnd.nextInt(0xd800, 0xdc00);
                    case 3 -> (char) rnd.nextInt(0xdc00, 0xe000);
                    default -> (char) rnd.nextInt(0x800, 0x10000);
                };
            }
            same(new String(c));
        }
    }
}
