// Parsing hash routes (`#/request/42?x=1`), apart from the router so tests need no browser.

export type Route = { page: string; param: string | null; search: string };

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#\/?/, '');
  const [path, search = ''] = raw.split('?', 2);
  const [page, param] = path.split('/', 2);
  return { page: page || 'overview', param: param ? decodeURIComponent(param) : null, search };
}
