#!/usr/bin/env node
// onnxruntime-node reference runner for the FlightLLM fixtures.
//
//   node run.mjs MODEL.onnx IN_DIR OUT_DIR   run once: every IN_DIR/<name>.npy is fed as
//                                            input <name>; every model output is written
//                                            to OUT_DIR/<name>.npy
//   node run.mjs --serve                     one JSON request per stdin line:
//       {"model": path, "inputs": dir, "outputs": dir}
//     answered by one JSON line on stdout: {"ok": true, "outputs": [names], "run_ms": ms} or
//     {"ok": false, "error": message}; run_ms is the wall time of session.run alone.  Sessions are cached per model path.
//   node run.mjs --version                   print the onnxruntime-node version
//
// Sessions run single-threaded; ORT_GRAPH_OPT_LEVEL (disabled|basic|extended|all,
// default all) selects the graph optimisation level.
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { readNpy, writeNpy } from './npy.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const sessions = new Map();

async function getSession(model) {
  if (!sessions.has(model)) {
    sessions.set(model, await ort.InferenceSession.create(model, {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: process.env.ORT_GRAPH_OPT_LEVEL || 'all',
    }));
  }
  return sessions.get(model);
}

async function runOnce(model, inDir, outDir) {
  const session = await getSession(model);
  const feeds = {};
  for (const name of session.inputNames) {
    const a = readNpy(join(inDir, `${name}.npy`));
    feeds[name] = new ort.Tensor(a.type, a.data, a.dims);
  }
  const extra = readdirSync(inDir).filter((f) => f.endsWith('.npy'))
    .map((f) => f.slice(0, -4)).filter((n) => !session.inputNames.includes(n));
  if (extra.length) throw new Error(`inputs not in the model: ${extra.join(', ')}`);
  const t0 = process.hrtime.bigint();
  const results = await session.run(feeds);
  const runMs = Number(process.hrtime.bigint() - t0) / 1e6;
  mkdirSync(outDir, { recursive: true });
  for (const name of session.outputNames) {
    const t = results[name];
    writeNpy(join(outDir, `${name}.npy`), t.type, t.dims, t.data);
  }
  return { names: session.outputNames, runMs };
}

function version() {
  const pkg = JSON.parse(readFileSync(join(here, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8'));
  return pkg.version;
}

const args = process.argv.slice(2);
if (args[0] === '--version') {
  console.log(version());
} else if (args[0] === '--serve') {
  const rl = createInterface({ input: process.stdin, terminal: false });
  for await (const line of rl) {
    if (!line.trim()) continue;
    let reply;
    try {
      const req = JSON.parse(line);
      const { names, runMs } = await runOnce(req.model, req.inputs, req.outputs);
      reply = { ok: true, outputs: names, run_ms: runMs };
    } catch (e) {
      reply = { ok: false, error: String(e && e.stack ? e.stack : e) };
    }
    process.stdout.write(JSON.stringify(reply) + '\n');
  }
} else if (args.length === 3) {
  const { names } = await runOnce(args[0], args[1], args[2]);
  console.log(names.join('\n'));
} else {
  console.error('usage: node run.mjs MODEL.onnx IN_DIR OUT_DIR | --serve | --version');
  process.exit(2);
}
