package moed.predictor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import moed.kernels.Bytes;
import moed.kernels.GgmlType;
import moed.kernels.WeightMatrix;
import org.junit.jupiter.api.Test;

class PredictorTest {
    /** A router of E one-hot rows over dim 32: expert e looks at coordinate e. */
    static RouterWeights oneHotRouter(int experts, float sharpness) {
        int dim = 32;
        MemorySegment m = Arena.ofAuto().allocate((long) experts * dim * 4);
        for (int e = 0; e < experts; e++) {
            m.set(Bytes.LE_FLOAT, ((long) e * dim + e) * 4, sharpness);
        }
        float[] norm = new float[dim];
        java.util.Arrays.fill(norm, 1f);
        return new RouterWeights(norm, 1e-5f, WeightMatrix.of(GgmlType.F32, m, experts, dim));
    }

    @Test
    void gateLookaheadRanksExpertsByTheTargetLayersRouter() {
        GateLookaheadPredictor p = new GateLookaheadPredictor(new RouterWeights[] {null, oneHotRouter(8, 4f)}, 32);
        float[] hidden = new float[32];
        hidden[5] = 3f;
        hidden[2] = 2f;
        hidden[7] = 1f;
        Candidates c = new Candidates(8);
        p.predict(1, hidden, c);
        assertEquals(8, c.size());
        assertEquals(5, c.expert(0));
        assertEquals(2, c.expert(1));
        assertEquals(7, c.expert(2));
        float sum = 0;
        for (int i = 0; i < c.size(); i++) {
            sum += c.score(i);
        }
        assertEquals(1f, sum, 1e-5f, "scores are probabilities");
    }

    @Test
    void gateLookaheadAddsTheRoutersBias() {
        RouterWeights plain = oneHotRouter(8, 4f);
        float[] bias = new float[8];
        bias[6] = 40f; // gpt-oss routers have a bias; this one outranks expert 5's logit of 4 x 5.66
        RouterWeights biased = new RouterWeights(plain.norm(), plain.eps(), plain.router(), bias, moed.kernels.RouterScoring.SOFTMAX);
        float[] hidden = new float[32];
        hidden[5] = 3f;
        Candidates c = new Candidates(8);
        new GateLookaheadPredictor(new RouterWeights[] {null, plain}, 32).predict(1, hidden, c);
        assertEquals(5, c.expert(0));
        new GateLookaheadPredictor(new RouterWeights[] {null, biased}, 32).predict(1, hidden, c);
        assertEquals(6, c.expert(0));
        assertEquals(5, c.expert(1));
    }

    @Test
    void candidatesWidenUntilTheMassIsCovered() {
        Candidates c = new Candidates(6);
        c.fillSorted(new float[] {0.05f, 0.4f, 0.3f, 0.1f, 0.1f, 0.05f}, 6);
        assertEquals(2, c.choose(2, 4, 0.5f), "0.4 + 0.3 already covers 0.5");
        assertEquals(4, c.choose(2, 4, 0.95f), "capped at max");
        assertEquals(3, c.choose(2, 6, 0.75f));
        assertTrue(c.containsInTop(2, 2));
    }

    @Test
    void priorsLearnTransitionsAndRecency() {
        PriorPredictor p = new PriorPredictor(2, 4, 1, 0f);
        for (int i = 0; i < 10; i++) {
            p.observe(0, new int[] {1}, 1);
            p.observe(1, new int[] {i % 5 == 0 ? 0 : 3}, 1);
            p.nextToken();
        }
        p.observe(0, new int[] {1}, 1);
        Candidates c = new Candidates(4);
        p.predict(1, null, c);
        assertEquals(3, c.expert(0), "after expert 1, layer 1 mostly chose 3");
        PriorPredictor r = new PriorPredictor(2, 4, 1, 1f);
        r.observe(1, new int[] {2}, 1);
        r.nextToken();
        r.predict(1, null, c);
        assertEquals(2, c.expert(0), "recency: the previous token's choice");
    }
}
