import { describe, expect, it } from 'vitest';
import { aliasFor, blankForm, chosenEntries, entryFrom, formFrom, formProblems, isEmptyConfig, keyName, keychainName } from './providers';

describe('provider form', () => {
  it('proposes a keychain reference from the name', () => {
    expect(blankForm('openai', 'My Cloud').api_key).toBe('keychain:My-Cloud');
    expect(blankForm('github_copilot').api_key).toBe('keychain:github_copilot');
    expect(blankForm('demo').api_key).toBe('');
    expect(keyName('a/b c')).toBe('a-b-c');
  });
  it('keeps fields the dialog does not show and drops emptied ones', () => {
    const previous = { kind: 'openai', base_url: 'http://x/v1', api_key: 'env:K', timeouts: { connect_s: 2 }, budget: 'cloud' };
    const form = { ...formFrom('p', previous), api_key: '' };
    expect(entryFrom(form, previous)).toEqual({ kind: 'openai', base_url: 'http://x/v1', timeouts: { connect_s: 2 }, budget: 'cloud' });
    const copilot = entryFrom({ ...form, kind: 'github_copilot', api_key: 'keychain:gh', github_url: '' }, previous);
    expect(copilot.base_url).toBeUndefined();
    expect(copilot.api_key).toBe('keychain:gh');
    expect(entryFrom({ ...form, kind: 'demo' }, previous)).toEqual({ kind: 'demo', timeouts: { connect_s: 2 }, budget: 'cloud' });
  });
  it('names what is wrong before saving', () => {
    const ok = { name: 'local', kind: 'openai' as const, base_url: 'http://127.0.0.1:11434/v1', api_key: '', github_url: '' };
    expect(formProblems(ok, [], false)).toEqual([]);
    expect(formProblems(ok, ['local'], false)[0]).toMatch(/exists already/);
    expect(formProblems(ok, ['local'], true)).toEqual([]);
    expect(formProblems({ ...ok, name: 'a/b' }, [], false)[0]).toMatch(/cannot contain/);
    expect(formProblems({ ...ok, base_url: 'nope' }, [], false)[0]).toMatch(/not a URL/);
    expect(formProblems({ ...ok, api_key: 'sk-123' }, [], false)[0]).toMatch(/never the key itself/);
  });
  it('reads keychain names from references', () => {
    expect(keychainName('keychain:openai')).toBe('openai');
    expect(keychainName('env:OPENAI')).toBeNull();
    expect(keychainName(null)).toBeNull();
  });
});

describe('aliases and onboarding', () => {
  it('makes unique alias names', () => {
    expect(aliasFor('ollama', 'qwen2.5:7b', [])).toBe('ollama/qwen2.5:7b');
    expect(aliasFor('o', 'm', ['o/m', 'o/m-2'])).toBe('o/m-3');
  });
  it('treats a demo-only config as empty', () => {
    const demo = [{ name: 'demo', value: { kind: 'demo' } }];
    const demoAlias = [{ name: 'demo', value: { targets: ['demo/switchboard-demo'] } }];
    expect(isEmptyConfig(demo, demoAlias)).toBe(true);
    expect(isEmptyConfig([], [])).toBe(true);
    expect(isEmptyConfig([...demo, { name: 'o', value: { kind: 'openai' } }], demoAlias)).toBe(false);
    expect(isEmptyConfig(demo, [{ name: 'x', value: { targets: [{ model: 'other/m' }] } }])).toBe(false);
  });
  it('writes only the chosen servers', () => {
    const p = (section: string, name: string, base_url: string) => ({ section, name, base_url, value: {} });
    const proposed = [p('providers', 'ollama', 'a'), p('aliases', 'ollama/m', 'a'), p('providers', 'vllm', 'b'), p('aliases', 'local/chat', 'a')];
    expect(chosenEntries(proposed, new Set(['a'])).map((e) => e.name)).toEqual(['ollama', 'ollama/m', 'local/chat']);
    expect(chosenEntries(proposed, new Set())).toEqual([]);
  });
});
