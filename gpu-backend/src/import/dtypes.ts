/** The dtype variants transformers.js / Optimum exports publish, by decoder file name (first found wins). */
export const DTYPE_FILES = {
  fp32: ['model.onnx'],
  fp16: ['model_fp16.onnx'],
  q8: ['model_quantized.onnx', 'model_int8.onnx', 'model_uint8.onnx'],
  q4: ['model_q4.onnx'],
} as const satisfies Record<string, readonly string[]>;
export type Dtype = keyof typeof DTYPE_FILES;
export const DTYPES = Object.keys(DTYPE_FILES) as Dtype[];
export const isDtype = (s: string): s is Dtype => (DTYPES as string[]).includes(s);
