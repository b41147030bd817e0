import type { BackendConfig } from '../config.ts';

export function servesModel(backend: BackendConfig, model: string): boolean {
  return backend.models.includes('*') || backend.models.includes(model);
}

/**
 * The order in which to try backends: a weighted random draw without replacement, so the first pick follows
 * the weights and the retry goes to a different backend. `random` is injectable for tests.
 */
export function weightedOrder(backends: BackendConfig[], random: () => number = Math.random): BackendConfig[] {
  const left = [...backends];
  const out: BackendConfig[] = [];
  while (left.length) {
    const total = left.reduce((s, b) => s + b.weight, 0);
    let r = random() * total;
    let i = 0;
    while (i < left.length - 1 && r >= left[i].weight) {
      r -= left[i].weight;
      i++;
    }
    out.push(left.splice(i, 1)[0]);
  }
  return out;
}
