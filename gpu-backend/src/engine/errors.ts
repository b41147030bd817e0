/**
 * A request or configuration the engine refuses, with a message that names the field and value.
 * `code` lets the server map it onto its wire errors without parsing text.
 */
export class EngineError extends Error {
  constructor(
    message: string,
    readonly code: 'invalid_request' | 'unsupported' | 'runtime' = 'invalid_request',
  ) {
    super(message);
    this.name = 'EngineError';
  }
}
