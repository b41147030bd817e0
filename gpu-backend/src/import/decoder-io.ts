import { dataTypeName, dimsOf, elemTypeOf, type ModelSummary } from './onnx-scan.ts';

const INT64 = 7;
const FLOAT = 1;

/** What the graph's I/O says about a decoder with the Optimum `text-generation-with-past` contract. */
export interface DecoderIo {
  numLayers: number;
  /** From the past_key_values dims, when they are fixed numbers. */
  numKvHeads?: number;
  headDim?: number;
  vocabSize?: number;
  hasPositionIds: boolean;
}

const REEXPORT =
  're-export it as a single decoder with past (a current Optimum writes one model.onnx for ' +
  '`optimum-cli export onnx --model MODEL --task text-generation-with-past OUT`), or use the onnx/model.onnx that transformers.js repositories ship';

/**
 * Checks the with-past contract (input_ids, attention_mask, optional position_ids, past_key_values.{i}.key|value
 * in; logits, present.{i}.key|value out; float32 KV and logits, as the engine feeds them) and reads the
 * shapes it fixes. Each refusal names the file and the input or output.
 */
export function readDecoderIo(m: ModelSummary): DecoderIo {
  const inputs = new Map(m.inputs.map((i) => [i.name ?? '', i]));
  const outputs = new Map(m.outputs.map((o) => [o.name ?? '', o]));
  const fail = (msg: string): never => {
    throw new Error(`${m.path}: ${msg}`);
  };
  if (inputs.has('use_cache_branch')) fail(`is a merged decoder (input 'use_cache_branch', the decoder_model_merged layout), which Verdict does not run; ${REEXPORT}`);
  for (const name of ['input_ids', 'attention_mask']) {
    const v = inputs.get(name) ?? fail(`has no input '${name}'; not a text-generation decoder`);
    if (elemTypeOf(v) !== INT64) fail(`input '${name}' is ${dataTypeName(elemTypeOf(v))}, expected int64`);
  }
  if (!outputs.has('logits')) fail(`has no output 'logits'`);

  let numLayers = 0;
  while (inputs.has(`past_key_values.${numLayers}.key`)) numLayers++;
  if (numLayers === 0) fail(`has no input 'past_key_values.0.key': a decoder without a KV cache (task text-generation); ${REEXPORT}`);
  const kvDims = dimsOf(inputs.get('past_key_values.0.key'));
  for (let i = 0; i < numLayers; i++) {
    for (const kind of ['key', 'value']) {
      const past = inputs.get(`past_key_values.${i}.${kind}`) ?? fail(`has past_key_values.${i}.key but no input 'past_key_values.${i}.${kind}'`);
      const present = outputs.get(`present.${i}.${kind}`) ?? fail(`has no output 'present.${i}.${kind}' to match input 'past_key_values.${i}.${kind}'`);
      for (const [what, v] of [[`input 'past_key_values.${i}.${kind}'`, past], [`output 'present.${i}.${kind}'`, present]] as const) {
        if (elemTypeOf(v) !== FLOAT) fail(`${what} is ${dataTypeName(elemTypeOf(v))}; the engine keeps float32 KV caches (choose an export with float32 I/O, e.g. --dtype fp32, q8 or q4)`);
      }
      if (dimsOf(past).length !== 4) fail(`input 'past_key_values.${i}.${kind}' has rank ${dimsOf(past).length}, expected [batch, kv_heads, past, head_dim]`);
    }
  }
  if (outputs.has(`present.${numLayers}.key`)) fail(`has output 'present.${numLayers}.key' but no matching past input`);
  const logits = outputs.get('logits')!;
  if (elemTypeOf(logits) !== FLOAT) fail(`output 'logits' is ${dataTypeName(elemTypeOf(logits))}; the engine reads float32 logits (choose an export with float32 I/O, e.g. --dtype fp32, q8 or q4)`);
  const num = (x: number | string | undefined) => (typeof x === 'number' ? x : undefined);
  return {
    numLayers,
    numKvHeads: num(kvDims[1]),
    headDim: num(kvDims[3]),
    vocabSize: num(dimsOf(logits)[2]),
    hasPositionIds: inputs.has('position_ids'),
  };
}
