export * from './speculative.ts';
export * from './errors.ts';
export * from './requests.ts';
export * from './responses.ts';
export * from './server-timing.ts';
export * from './sse.ts';
export * from './body.ts';
export * from './numbers.ts';
