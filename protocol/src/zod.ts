/**
 * The zod every runtime schema is written with: zod/mini, configured with English messages.
 *
 * Why mini: zod's classic API costs each isolate that loads it about 5 MiB of V8 heap (measured: a
 * bundle of this protocol on classic zod, +5.3 MiB heap and +6.8 MiB RSS over a bare process; the
 * same schemas on mini, +0.9 MiB heap and +1.8 MiB RSS), and `verdict serve` loads it twice (HTTP
 * thread and engine worker), the gateway once per Worker isolate. Mini is tree-shakable; it sets no locale by itself, so this
 * module does, once for every schema of the process (zod's config is global).
 */
import { config, type core } from 'zod/mini';
import { en } from 'zod/locales';

config(en());

// Import as a namespace (`import * as z from '@verdict/protocol/zod'`): esbuild then keeps only the
// functions used. Re-exporting the namespace object itself would keep all of zod/mini.
export * from 'zod/mini';
/** A zod error, whichever zod made it. */
export type ZodError = core.$ZodError;
/** One issue of a {@link ZodError}. */
export type ZodIssue = core.$ZodIssue;
