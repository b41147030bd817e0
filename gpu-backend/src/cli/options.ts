/** Flag parsers and terminal helpers shared by the `verdict` subcommands (bad values are commander errors naming the flag). */
import { InvalidArgumentError } from 'commander';
import { SingleBar } from 'cli-progress';

export const positiveInt = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`not a positive integer: ${v}`);
  return n;
};
export const nonNegativeInt = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`not a non-negative integer: ${v}`);
  return n;
};
export const unitInterval = (v: string): number => {
  const n = Number(v);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError(`not a number in [0, 1]: ${v}`);
  return n;
};
export const nonNegative = (v: string): number => {
  const n = Number(v);
  if (!(n >= 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`not a number >= 0: ${v}`);
  return n;
};

/** A progress bar on stderr when it is a terminal; undefined otherwise (logs stay clean). */
export function progressBar(label: string, unit: string): SingleBar | undefined {
  if (!process.stderr.isTTY) return undefined;
  return new SingleBar({ format: `${label} {bar} {value}/{total} ${unit} {extra}`, stream: process.stderr, hideCursor: true });
}

export const fmt = (x: number, digits = 3): string => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
