// Runs mainline llama.cpp (through the npm package node-llama-cpp and its prebuilt CPU library) on GGUF files, for
// moed's conformance test. Usage: node llama-cpp.mjs JOBS.json OUT.json
// JOBS: [{"model": path, "prompts": [text...], "tokens": n, "forced": [[ids...] per prompt] (optional)}]
// OUT: {"llamaCpp": release, "results": [{"model", "error"?, "prompts": [{"ids", "greedy", "forced"}]}]}
//   ids: the prompt's tokens (BOS first when the model asks for it); greedy: n greedy tokens (fewer at an
//   end-of-generation token, which node-llama-cpp ends the generation on without yielding it); forced: for each token of the given continuation, the probability llama.cpp gives
//   it, its own top token and that token's probability, with the continuation fed token by token (teacher forcing).
import fs from 'node:fs';
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';

const [jobsFile, outFile] = process.argv.slice(2);
const jobs = JSON.parse(fs.readFileSync(jobsFile, 'utf8'));
const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
const out = { llamaCpp: llama.llamaCppRelease, results: [] };

function promptIds(model, text) {
  const ids = model.tokenize(text, false);
  return model.tokens.shouldPrependBosToken && model.tokens.bos != null ? [model.tokens.bos, ...ids] : ids;
}

for (const job of jobs) {
  const result = { model: job.model, prompts: [] };
  out.results.push(result);
  let model;
  try {
    model = await llama.loadModel({ modelPath: job.model, gpuLayers: 0 });
    const context = await model.createContext({ contextSize: 512, batchSize: 512, sequences: 1, threads: 2 });
    for (let p = 0; p < job.prompts.length; p++) {
      const ids = promptIds(model, job.prompts[p]);
      const entry = { ids, greedy: [], forced: [] };
      result.prompts.push(entry);
      let seq = context.getSequence();
      for await (const token of seq.evaluate(ids, { temperature: 0 })) {
        if (model.isEogToken(token)) break;
        entry.greedy.push(token);
        if (entry.greedy.length >= job.tokens) break;
      }
      seq.dispose();
      const forced = job.forced ? job.forced[p] : null;
      if (forced && forced.length > 0) {
        seq = context.getSequence();
        // Plain softmax: temperature 1, no truncation; the sampled token is ignored, the continuation is fed.
        const gen = seq.evaluateWithMetadata(ids, { probabilities: true }, { temperature: 1, topK: 0, topP: 1, minP: 0 });
        let step = await gen.next();
        for (let i = 0; i < forced.length && !step.done; i++) {
          const probs = step.value.probabilities;
          let top = -1, topP = -1;
          for (const [t, pr] of probs) if (pr > topP) { top = t; topP = pr; }
          entry.forced.push({ token: forced[i], p: probs.get(forced[i]) ?? 0, top, topP });
          if (i + 1 < forced.length) step = await gen.next(forced[i]);
        }
        await gen.return();
        seq.dispose();
      }
    }
    await context.dispose();
  } catch (e) {
    result.error = String(e && e.message ? e.message : e);
  } finally {
    if (model) await model.dispose();
  }
}
fs.writeFileSync(outFile, JSON.stringify(out));
