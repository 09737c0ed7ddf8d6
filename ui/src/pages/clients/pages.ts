// The clients pages, lazy-loaded (each its own chunk, outside the initial JS budget).
import type { Component } from 'svelte';

export const clientPages = [
  { id: 'tokens', label: 'Client tokens', key: 'g t' },
  { id: 'connect', label: 'Connect a client', key: 'g n' },
  { id: 'access', label: 'Access', key: 'g a' },
  { id: 'playground', label: 'Playground', key: 'g y' },
];

const loaders: Record<string, () => Promise<{ default: Component }>> = {
  tokens: () => import('./Tokens.svelte'),
  connect: () => import('./Connect.svelte'),
  access: () => import('./Access.svelte'),
  playground: () => import('./Playground.svelte'),
};

const loaded = new Map<string, Promise<{ default: Component }>>();

/** The page's module (one import per page, reused), or null for other pages. */
export function loadClientPage(page: string): Promise<{ default: Component }> | null {
  const load = loaders[page];
  if (!load) return null;
  let module = loaded.get(page);
  if (!module) {
    module = load();
    loaded.set(page, module);
  }
  return module;
}
