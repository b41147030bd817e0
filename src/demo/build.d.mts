/** Bundles src/demo/page into public/demo/app.js; resolves to the bundle's size in bytes. */
export function buildDemo(): Promise<number>;
/** The source files the page's bundle is made of (built in memory, nothing written). */
export function demoInputs(): Promise<string[]>;
