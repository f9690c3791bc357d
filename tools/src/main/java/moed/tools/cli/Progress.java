package moed.tools.cli;

import java.io.PrintStream;

/** A one-line progress bar on stderr for long work (writing a model, a benchmark, a perplexity run). */
final class Progress {
    private final PrintStream out;
    private final String label;
    private final boolean tty;
    private int lastPercent = -1;

    Progress(String label) {
        this.out = System.err;
        this.label = label;
        this.tty = System.console() != null;
    }

    void update(long done, long total) {
        int pct = total == 0 ? 100 : (int) (100 * done / total);
        if (pct == lastPercent) {
            return;
        }
        lastPercent = pct;
        int bars = pct / 4;
        String line = String.format("%s [%-25s] %3d%%", label, "#".repeat(bars), pct);
        if (tty) {
            out.print("\r" + line);
            if (pct == 100) {
                out.println();
            }
        } else if (pct == 100 || pct % 25 == 0) {
            out.println(line);
        }
        out.flush();
    }
}
