import { defineConfig } from 'vitest/config';
import { cloudflareTest } from '@cloudflare/vitest-plugin';

// Three projects, one `npm test`:
//  - backend: the Node service, engine and CLI (gpu-backend/test, protocol tests)
//  - worker:  the edge gateway, inside workerd through @cloudflare/vitest-plugin
//  - e2e:     real processes (backend + gateway in Miniflare) talking over loopback
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'backend',
          include: ['gpu-backend/test/**/*.test.ts', 'protocol/**/*.test.ts', 'test/demo/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        // TEST_CACHE_KV: a KV namespace for the optional CACHE_KV answer tier, which wrangler.toml leaves commented
        // out; tests that exercise the tier pass it to the gateway as CACHE_KV.
        plugins: [cloudflareTest({ wrangler: { configPath: './wrangler.toml' }, miniflare: { kvNamespaces: ['TEST_CACHE_KV'] } })],
        test: {
          name: 'worker',
          include: ['src/**/*.test.ts', 'test/worker/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
