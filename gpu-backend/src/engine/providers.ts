/**
 * The execution providers the onnxruntime-node binary can load: the one list that the session,
 * `verdict serve`'s config and the CLIs check against. (No onnxruntime import here: the HTTP
 * thread validates its config without loading the runtime.)
 */
export const EXECUTION_PROVIDERS = ['cpu', 'cuda', 'webgpu'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];
