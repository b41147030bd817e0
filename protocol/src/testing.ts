/**
 * Test data shared by the protocol, backend and gateway tests (not exported from the package index):
 * for each field in UNSUPPORTED_FIELDS, a value a client would send that asks for the feature.
 */
export const UNSUPPORTED_EXAMPLES: Record<string, unknown> = {
  frequency_penalty: 0.5,
  presence_penalty: 0.5,
  repetition_penalty: 1.2,
  logit_bias: { '1': 5 },
  tools: [{ type: 'function', function: { name: 'f', parameters: {} } }],
  functions: [{ name: 'f', parameters: {} }],
  tool_choice: 'auto',
  function_call: 'auto',
  response_format: { type: 'json_object' },
  suffix: ' the end',
  best_of: 2,
  modalities: ['text', 'audio'],
  audio: { voice: 'alloy', format: 'wav' },
  reasoning_effort: 'low',
  web_search_options: {},
  min_p: 0.1,
};

/** Values of those fields that mean the same as leaving them out, which are accepted. */
export const NEUTRAL_EXAMPLES: Record<string, unknown> = {
  frequency_penalty: 0,
  presence_penalty: 0,
  logit_bias: {},
  tools: [],
  tool_choice: 'none',
  response_format: { type: 'text' },
  parallel_tool_calls: false,
  user: 'u1',
  metadata: { team: 'a' },
  store: false,
  service_tier: 'auto',
  audio: null,
};
