// The config editor's calls: entries of a section, the dry run, writes with If-Match, the
// version history, and a backend's model list (for the model field's suggestions).
import { call, ApiError, ifMatch } from './api';
import type { ChangeAction, ConfigHistory, ConfigListing, ConfigPreview, ConfigVersionDocument, WriteOutcome } from './api.gen';

const seg = encodeURIComponent;

export type BackendModels = { models: { id: string; max_input_tokens: number | null }[]; error: string | null };

export const editApi = {
  list: (section: string) => call<ConfigListing>('GET', `/admin/config/${seg(section)}`),
  preview: (section: string, name: string, action: ChangeAction, value: unknown, base_revision: string | null) =>
    call<ConfigPreview>('POST', '/admin/config/preview', { section, name, action, value, base_revision }),
  write: (section: string, name: string, action: ChangeAction, value: unknown, revision: string) => {
    if (action === 'create') return call<WriteOutcome>('POST', `/admin/config/${seg(section)}`, { name, value }, ifMatch(revision));
    if (action === 'delete') return call<WriteOutcome>('DELETE', `/admin/config/${seg(section)}/${seg(name)}`, undefined, ifMatch(revision));
    return call<WriteOutcome>('PUT', `/admin/config/${seg(section)}/${seg(name)}`, value, ifMatch(revision));
  },
  history: () => call<ConfigHistory>('GET', '/admin/config/history'),
  version: (id: string) => call<ConfigVersionDocument>('GET', `/admin/config/history/${seg(id)}`),
  restore: (id: string, revision: string) => call<WriteOutcome>('POST', `/admin/config/history/${seg(id)}/restore`, undefined, ifMatch(revision)),
  /** The backend's own model list; an empty list when the gateway has no such endpoint. */
  models: async (provider: string): Promise<BackendModels> => {
    try {
      return await call<BackendModels>('GET', `/admin/providers/${seg(provider)}/models`);
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 405)) return { models: [], error: null };
      return { models: [], error: e instanceof Error ? e.message : String(e) };
    }
  },
};
