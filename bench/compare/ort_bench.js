#!/usr/bin/env node
// Times one ONNX model in ONNX Runtime (CPU execution provider) through
// onnxruntime-node, installed under bench/compare/node/ by run.py.
//
//   node bench/compare/ort_bench.js MODEL.onnx --shape 8,3,224,224
//        [--threads 2] [--runs 50] [--warmup 5]
//
// intraOpNumThreads = --threads, interOpNumThreads = 1, sequential execution,
// graphOptimizationLevel 'all'. The model's first input gets seeded random
// f32 data of --shape. Prints one JSON object with median_ms and min_ms.
'use strict';

const path = require('path');
const ort = require(path.join(__dirname, 'node', 'node_modules', 'onnxruntime-node'));

function parseArgs(argv) {
  const args = { threads: 2, runs: 50, warmup: 5, shape: null, model: null };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`missing value for ${a}`);
      return argv[++i];
    };
    if (a === '--threads') args.threads = parseInt(value(), 10);
    else if (a === '--runs') args.runs = parseInt(value(), 10);
    else if (a === '--warmup') args.warmup = parseInt(value(), 10);
    else if (a === '--shape') args.shape = value().split(',').map((d) => parseInt(d, 10));
    else if (!a.startsWith('--') && args.model === null) args.model = a;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!args.model || !args.shape) {
    throw new Error('usage: ort_bench.js MODEL.onnx --shape N,C,H,W [--threads T] [--runs R]');
  }
  return args;
}

// Deterministic pseudo-random data in [-1, 1) (xorshift32).
function randomData(n) {
  const data = new Float32Array(n);
  let x = 2463534242;
  for (let i = 0; i < n; ++i) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    data[i] = (x / 4294967296) * 2 - 1;
  }
  return data;
}

function median(sorted) {
  const m = sorted.length >> 1;
  return sorted.length % 2 ? sorted[m] : 0.5 * (sorted[m - 1] + sorted[m]);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const session = await ort.InferenceSession.create(args.model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: args.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const count = args.shape.reduce((a, b) => a * b, 1);
  const feeds = {};
  feeds[session.inputNames[0]] = new ort.Tensor('float32', randomData(count), args.shape);
  for (let i = 0; i < args.warmup; ++i) await session.run(feeds);
  const ms = [];
  for (let i = 0; i < args.runs; ++i) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ms.sort((a, b) => a - b);
  console.log(JSON.stringify({
    model: args.model,
    shape: args.shape,
    threads: args.threads,
    runs: args.runs,
    ort_version: require(path.join(__dirname, 'node', 'node_modules', 'onnxruntime-node', 'package.json')).version,
    median_ms: median(ms),
    min_ms: ms[0],
  }));
}

main().catch((e) => {
  console.error(String(e && e.stack ? e.stack : e));
  process.exit(1);
});
