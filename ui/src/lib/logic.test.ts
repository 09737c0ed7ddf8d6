import { describe, expect, it } from 'vitest';
import { apiUrl, describe as describeError, gatewayRoot, query } from './api';
import { curlCommand, redact, shellQuote } from './curl';
import { EMPTY, formatFilters, matches, parseFilters, toQuery } from './filters';
import { ago, count, ms, percent, statusClass, usd } from './format';
import { parseHash } from './route';
import { columns } from './series';
import { reassemble } from './stream';
import { visibleWindow } from './virtual';

describe('gateway addresses', () => {
  it('finds the root from /ui/, a proxy prefix or the tray window', () => {
    expect(gatewayRoot('http://127.0.0.1:4000/ui/#/logs')).toBe('http://127.0.0.1:4000/');
    expect(gatewayRoot('https://hub.lan/switchboard/ui/index.html?x=1#/health')).toBe('https://hub.lan/switchboard/');
    expect(apiUrl('/admin/requests', 'https://hub.lan/switchboard/')).toBe('https://hub.lan/switchboard/admin/requests');
  });
  it('builds query strings without empty values', () => {
    expect(query({ alias: 'a b', status: null, limit: 5, target: '' })).toBe('?alias=a+b&limit=5');
    expect(query({})).toBe('');
  });
  it('puts errors in words', () => {
    expect(describeError(401, null).message).toMatch(/switchboard dashboard/);
    expect(describeError(400, { error: { message: 'bad cursor', code: 'invalid_query' } })).toEqual({ message: 'bad cursor', code: 'invalid_query' });
    expect(describeError(502, 'x').message).toMatch(/502/);
  });
});

describe('copy as cURL', () => {
  it('quotes for the shell', () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
  });
  it('redacts credential-like fields anywhere', () => {
    expect(redact({ a: 1, api_key: 'sk-1', nested: [{ Authorization: 'Bearer x', token: 'y', max_tokens: 5 }] })).toEqual({
      a: 1,
      api_key: '[redacted]',
      nested: [{ Authorization: '[redacted]', token: '[redacted]', max_tokens: 5 }],
    });
  });
  it('targets this gateway and leaves the token to the reader', () => {
    const cmd = curlCommand({ root: 'http://127.0.0.1:4000/', endpoint: 'chat/completions', body: { model: 'm', api_key: 'sk-secret' }, needsToken: true });
    expect(cmd).toContain("curl 'http://127.0.0.1:4000/v1/chat/completions'");
    expect(cmd).toContain('$SWITCHBOARD_TOKEN');
    expect(cmd).not.toContain('sk-secret');
    expect(curlCommand({ root: 'http://h/', endpoint: 'embeddings', body: {}, needsToken: false })).not.toContain('authorization');
  });
});

describe('log filters in the URL', () => {
  it('round-trips and drops unknown ranges', () => {
    const f = parseFilters('alias=local&status=5xx&range=1h&junk=1');
    expect(f).toEqual({ ...EMPTY, alias: 'local', status: '5xx', range: '1h' });
    expect(formatFilters(f)).toBe('alias=local&status=5xx&range=1h');
    expect(parseFilters('range=3y').range).toBe('');
  });
  it('turns a range into a start time', () => {
    expect(toQuery({ ...EMPTY, range: '15m' }, 1_000_000).from_ms).toBe(100_000);
    expect(toQuery(EMPTY, 5).from_ms).toBeNull();
  });
  it('matches live rows like the server does', () => {
    const row = { alias: 'a', target: 'p/m', status: 502, error_type: 'backend_error', client: null, correlation_id: 'c', ts_ms: 1000 };
    expect(matches(row, { ...EMPTY, status: '5xx' }, 1000)).toBe(true);
    expect(matches(row, { ...EMPTY, status: '4xx' }, 1000)).toBe(false);
    expect(matches(row, { ...EMPTY, status: 'error', alias: 'a' }, 1000)).toBe(true);
    expect(matches(row, { ...EMPTY, alias: 'b' }, 1000)).toBe(false);
    expect(matches({ ...row, status: 200, error_type: 'stream_failed' }, { ...EMPTY, status: 'error' }, 1000)).toBe(true);
    expect(matches(row, { ...EMPTY, range: '15m' }, 1000 + 16 * 60_000)).toBe(false);
  });
});

describe('formatting', () => {
  it('reads like a person wrote it', () => {
    expect(ms(null)).toBe('–');
    expect(ms(12.4)).toBe('12 ms');
    expect(ms(1234)).toBe('1.23 s');
    expect(ms(125_000)).toBe('2 min 5 s');
    expect(usd(0.00123)).toBe('$0.0012');
    expect(usd(12.345)).toBe('$12.35');
    expect(count(1234)).toBe('1.2k');
    expect(percent(1, 3)).toBe('33%');
    expect(percent(0, 0)).toBe('–');
    expect(ago(0, 90_000)).toBe('2 min ago');
    expect(statusClass(200, null)).toBe('ok');
    expect(statusClass(429, 'rate_limited')).toBe('warn');
    expect(statusClass(200, 'stream_failed')).toBe('err');
  });
});

describe('routing', () => {
  it('parses hash routes', () => {
    expect(parseHash('')).toEqual({ page: 'overview', param: null, search: '' });
    expect(parseHash('#/request/42')).toEqual({ page: 'request', param: '42', search: '' });
    expect(parseHash('#/logs?alias=x')).toEqual({ page: 'logs', param: null, search: 'alias=x' });
  });
});

describe('virtual window', () => {
  it('renders only the rows in view plus a margin', () => {
    const w = visibleWindow(10_000, 32, 3200, 640, 10);
    expect(w).toEqual({ start: 90, end: 130, padTop: 90 * 32, padBottom: (10_000 - 130) * 32 });
    expect(visibleWindow(5, 32, 0, 640).end).toBe(5);
    expect(visibleWindow(0, 32, 0, 640)).toEqual({ start: 0, end: 0, padTop: 0, padBottom: 0 });
  });
});

describe('streams', () => {
  it('reassembles OpenAI and Anthropic streams', () => {
    const openai = 'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\ndata: {"choices":[{"delta":{"content":"lo"}}]}\n\ndata: [DONE]\n\n';
    expect(reassemble(openai)).toEqual({ text: 'Hello', events: 2 });
    const anthropic = 'event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"type":"text_delta","text":"Hi"}}\n\n';
    expect(reassemble(anthropic)?.text).toBe('Hi');
    expect(reassemble('{"not":"a stream"}')).toBeNull();
  });
});

describe('chart columns', () => {
  it('aligns groups on one time axis', () => {
    const bucket = (t_ms: number, group: string, count: number, p95: number) => ({
      t_ms, group, count, errors: 0, latency_p50_ms: p95, latency_p95_ms: p95, ttft_p50_ms: null, ttft_p95_ms: null, input_tokens: 0, output_tokens: 0, cost_usd: 0,
    });
    const c = columns([bucket(0, 'b', 2, 5), bucket(2000, 'a', 1, 7)], 0, 3000, 1000, 'count');
    expect(c.xs).toEqual([0, 1, 2]);
    expect(c.groups).toEqual(['a', 'b']);
    expect(c.series).toEqual([[0, 0, 1], [2, 0, 0]]);
    expect(columns([bucket(0, 'a', 1, 5)], 0, 2000, 1000, 'latency_p95_ms').series).toEqual([[5, null]]);
  });
});
