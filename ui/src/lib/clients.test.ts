import { describe, expect, it } from 'vitest';
import { answerText, limitsText, listenProblem, optionalNumber, originProblem, parseList, StreamReader, toggle } from './clients';

describe('clients pages', () => {
  it('parses comma or line separated lists without duplicates', () => {
    expect(parseList(' a, b\nb\n\n c ')).toEqual(['a', 'b', 'c']);
    expect(toggle(['a'], 'app://obsidian.md')).toEqual(['a', 'app://obsidian.md']);
    expect(toggle(['a', 'b'], 'a')).toEqual(['b']);
  });

  it('checks origins and listen addresses as the gateway does', () => {
    expect(originProblem('http://localhost:3000')).toBeNull();
    expect(originProblem('app://obsidian.md')).toBeNull();
    expect(originProblem('http://localhost:3000/')).toMatch(/no path/);
    expect(originProblem('*')).toMatch(/wildcard/);
    expect(originProblem('localhost')).toMatch(/looks like/);
    expect(listenProblem('0.0.0.0:4001')).toBeNull();
    expect(listenProblem('[::]:4001')).toBeNull();
    expect(listenProblem('0.0.0.0')).toMatch(/IP:port/);
    expect(listenProblem('1.2.3.4:70000')).toMatch(/IP:port/);
  });

  it('describes limits and reads number fields', () => {
    expect(limitsText({ rpm: 30, tpm: 50000, concurrent: 2 })).toBe('30 rpm · 50k tpm · 2 at once');
    expect(limitsText(null)).toBe('none');
    expect(optionalNumber('')).toBeNull();
    expect(optionalNumber('12')).toBe(12);
    expect(optionalNumber('x')).toBeNull();
  });

  it('reads chat, Anthropic and Responses streams across chunk boundaries', () => {
    const r = new StreamReader();
    expect(r.push('data: {"choices":[{"delta":{"content":"Hel"}}]}\n\ndata: {"choices":[{"del').text).toBe('Hel');
    const next = r.push('ta":{"content":"lo"}}]}\n\ndata: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}\n\ndata: [DONE]\n\n');
    expect(next.text).toBe('lo');
    expect(next.usage).toEqual({ input: 3, output: 2 });
    const a = new StreamReader().push('event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"type":"text_delta","text":"Hi"}}\n\n');
    expect(a.text).toBe('Hi');
    const o = new StreamReader().push('data: {"type":"response.output_text.delta","delta":"Yo"}\n\n');
    expect(o.text).toBe('Yo');
  });

  it('reads whole answers of every API', () => {
    expect(answerText({ choices: [{ message: { content: 'a' } }] })).toBe('a');
    expect(answerText({ content: [{ type: 'text', text: 'b' }] })).toBe('b');
    expect(answerText({ output: [{ content: [{ text: 'c' }] }] })).toBe('c');
  });
});
