import { describe, expect, it } from 'vitest';
import {
  aliasToForm,
  budgetToForm,
  debounce,
  diffStat,
  emptyAlias,
  errorsByField,
  fieldMessages,
  formToAlias,
  formToBudget,
  formToPrice,
  parseDiff,
  priceToForm,
  splitTarget,
  tomlKey,
  withLimits,
} from './edit';

describe('alias form ⇄ TOML value', () => {
  it('round-trips every field the schema has', () => {
    const value = {
      description: 'chat for everyone',
      targets: [
        'local/qwen',
        { model: 'openai/gpt-4.1-mini', weight: 3, max_input_tokens: 128000, max_tokens: 4096, timeouts: { connect_s: 2, first_byte_s: 30, idle_s: 10, total_s: 120 }, limits: { rpm: 60, tpm: 100000, concurrent: 4 } },
      ],
      fallbacks: ['local/reasoner', 'openai/strong'],
      strategy: 'least_inflight',
      retries: { attempts: 2, backoff_ms: 250, max_retry_after_s: 5 },
      limits: { rpm: 120 },
      long_context: { above_tokens: 12000, alias: 'openai/strong' },
      budget: 'cloud',
      affinity: false,
    };
    expect(formToAlias(aliasToForm(value))).toEqual(value);
  });
  it('writes a target without settings short, and model ids keep their own slashes', () => {
    const form = emptyAlias('hf');
    form.targets[0].model = 'Qwen/Qwen2.5-7B';
    expect(formToAlias(form)).toEqual({ targets: ['hf/Qwen/Qwen2.5-7B'] });
    expect(splitTarget('hf/Qwen/Qwen2.5-7B')).toEqual({ provider: 'hf', model: 'Qwen/Qwen2.5-7B' });
  });
  it('drops unset fields and sends text that is not a number as it is (the validator names it)', () => {
    const form = aliasToForm({ targets: ['a/b'] });
    form.targets[0].weight = 'two';
    form.fallbacks = ['', ' x '];
    form.affinity = 'on';
    expect(formToAlias(form)).toEqual({ targets: [{ model: 'a/b', weight: 'two' }], fallbacks: ['x'], affinity: true });
  });
});

describe('budgets, prices and limits', () => {
  it('maps when_spent both ways', () => {
    expect(formToBudget(budgetToForm({ usd: 150, period: 'month', when_spent: { reroute: 'local/chat' }, alert_at: 0.9 }))).toEqual({
      usd: 150,
      period: 'month',
      when_spent: { reroute: 'local/chat' },
      alert_at: 0.9,
    });
    expect(formToBudget(budgetToForm({ usd: 5, period: 'day', when_spent: 'refuse' }))).toEqual({ usd: 5, period: 'day', when_spent: 'refuse' });
    expect(budgetToForm({ usd: 1, period: 'week' }).when_spent).toBe('');
  });
  it('prices keep only the rates given', () => {
    expect(formToPrice(priceToForm({ input: 0.5, output: 1.5, cache_read: 0.05 }))).toEqual({ input: 0.5, output: 1.5, cache_read: 0.05 });
  });
  it('replaces only the limits of a token and keeps its hash', () => {
    const token = { hash: 'sha256:ab', tenant: 'team', limits: { rpm: 1 } };
    expect(withLimits(token, { rpm: '10', tpm: '', concurrent: '2' })).toEqual({ hash: 'sha256:ab', tenant: 'team', limits: { rpm: 10, concurrent: 2 } });
    expect(withLimits(token, { rpm: '', tpm: '', concurrent: '' })).toEqual({ hash: 'sha256:ab', tenant: 'team' });
  });
});

describe('field errors', () => {
  const errors = [
    { path: 'aliases."local/chat".targets[0].model', message: 'unknown provider', line: 3, col: 1 },
    { path: 'aliases."local/chat".strategy', message: 'unknown strategy', line: 4, col: 1 },
    { path: 'aliases."local/chat"', message: 'exists', line: 0, col: 0 },
    { path: 'budgets.cloud.usd', message: 'elsewhere', line: 9, col: 1 },
    { path: null, message: 'no place', line: 0, col: 0 },
  ];
  it('are keyed by the field inside the entry; the rest is other', () => {
    const { fields, other } = errorsByField(errors, 'aliases', 'local/chat');
    expect(fields.get('targets[0].model')).toEqual(['unknown provider']);
    expect(fields.get('strategy')).toEqual(['unknown strategy']);
    expect(fields.get('')).toEqual(['exists']);
    expect(other.map((e) => e.message)).toEqual(['elsewhere', 'no place']);
    expect(fieldMessages(fields, 'targets[0]')).toEqual(['unknown provider']);
    expect(fieldMessages(fields, 'targets[1]')).toEqual([]);
  });
  it('quote keys as TOML does', () => {
    expect(tomlKey('default')).toBe('default');
    expect(tomlKey('local/chat')).toBe('"local/chat"');
  });
});

describe('diff rendering', () => {
  const diff = '--- now\n+++ after\n@@ -2,3 +2,4 @@\n [aliases.first]\n-targets = ["a/b"]\n+targets = ["a/b", "c/d"]\n+weight = 1\n description = "x"\n';
  it('numbers old and new lines', () => {
    const lines = parseDiff(diff);
    expect(lines.map((l) => l.kind)).toEqual(['file', 'file', 'hunk', 'ctx', 'del', 'add', 'add', 'ctx']);
    expect(lines[3]).toEqual({ kind: 'ctx', text: '[aliases.first]', old: 2, new: 2 });
    expect(lines[4].old).toBe(3);
    expect(lines[6]).toEqual({ kind: 'add', text: 'weight = 1', old: null, new: 4 });
    expect(lines[7]).toEqual({ kind: 'ctx', text: 'description = "x"', old: 4, new: 5 });
    expect(diffStat(diff)).toEqual({ added: 2, removed: 1 });
    expect(parseDiff('')).toEqual([]);
  });
});

describe('debounce', () => {
  it('calls once after the last call', async () => {
    const seen: number[] = [];
    const d = debounce((n: number) => seen.push(n), 10);
    d(1);
    d(2);
    d(3);
    await new Promise((r) => setTimeout(r, 30));
    expect(seen).toEqual([3]);
  });
});
