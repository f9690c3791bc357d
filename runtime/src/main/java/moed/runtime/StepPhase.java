package moed.runtime;

import moed.jfr.Events;

/**
 * What a forward step is for, as its moed.TokenStep event records it (the codes live on the event). A step that
 * mixes a newcomer's prompt rows into the decode rows is a DECODE step that counts its prompt rows apart.
 */
public enum StepPhase {
    /** Prompt tokens only. */
    PREFILL(Events.TokenStep.PREFILL),
    /** One token per decoding sequence (and possibly a chunk of a newcomer's prompt). */
    DECODE(Events.TokenStep.DECODE);

    /** The code the event records. */
    final int code;

    StepPhase(int code) {
        this.code = code;
    }
}
