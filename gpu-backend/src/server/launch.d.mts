/** Types of launch.mjs (plain JavaScript so that it runs before any TypeScript loader). */

/** The environment `--malloc tuned` runs the server with. */
export const TUNED_MALLOC_ENV: { MALLOC_MMAP_THRESHOLD_: string; MALLOC_ARENA_MAX: string };
/** Runs `verdict serve` with `flags` (serve's flags); resolves when the server is up. */
export function launchServe(flags: string[], name?: string): Promise<void>;
/** In a server the launcher re-ran: exit when the launcher dies unannounced. */
export function watchLauncher(): void;
/** Bundles the server, worker, engine and bundle loader with esbuild (cached); returns the directory. */
export function compileServe(): Promise<string>;
