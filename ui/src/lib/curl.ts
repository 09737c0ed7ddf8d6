// "Copy as cURL" from a logged request: the same endpoint on this gateway, the captured body,
// and never a key: the Authorization header is a shell variable the reader fills in.

const SECRET_KEYS = /(api[-_]?key|authorization|password|secret|token)$/i;

/** Replaces the values of credential-like keys anywhere in a JSON value. */
export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [
        k,
        SECRET_KEYS.test(k) && typeof v === 'string' ? '[redacted]' : redact(v),
      ]),
    );
  }
  return value;
}

/** Quotes for POSIX shells: single quotes, with embedded ones closed and escaped. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

export type CurlInput = {
  root: string;
  endpoint: string;
  body: unknown;
  /** Client tokens are configured: add the header, with the token left to the reader. */
  needsToken: boolean;
};

export function curlCommand({ root, endpoint, body, needsToken }: CurlInput): string {
  const url = new URL(`v1/${endpoint.replace(/^\/+/, '')}`, root).toString();
  const lines = [`curl ${shellQuote(url)}`, `-H 'content-type: application/json'`];
  if (needsToken) lines.push(`-H "authorization: Bearer $SWITCHBOARD_TOKEN"`);
  lines.push(`--data-raw ${shellQuote(JSON.stringify(redact(body)))}`);
  return lines.join(' \\\n  ');
}
