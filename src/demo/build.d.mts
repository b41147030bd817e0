/** Bundles src/demo/page into public/demo/app.js; resolves to the bundle's size in bytes. */
export function buildDemo(): Promise<number>;
