// One entry being edited: its value is tried on the file as the user types (debounced dry
// run: field errors and the diff), saved with If-Match on the revision it was based on, and a
// stale save (the file changed on disk) is shown with the new version's diff to re-apply.
import { ApiError } from './api';
import type { ChangeAction, ConfigPreview } from './api.gen';
import { debounce } from './edit';
import { editApi } from './editApi';

export class EntryDraft {
  name = $state('');
  value = $state<unknown>({});
  preview = $state<ConfigPreview | null>(null);
  checking = $state(false);
  saving = $state(false);
  /** The file changed since `base`: the diff shown is against the new version. */
  stale = $state(false);
  problem = $state('');
  base = $state('');
  private seq = 0;
  private later = debounce(() => void this.check(), 300);

  constructor(
    readonly section: string,
    name: string,
    readonly action: ChangeAction,
    base: string,
    value: unknown = {},
  ) {
    this.name = name;
    this.base = base;
    this.value = value;
  }

  /** The form changed: try it again shortly. */
  change(value: unknown, name: string = this.name) {
    this.value = value;
    this.name = name;
    this.later();
  }

  async check() {
    if (!this.name.trim()) {
      this.preview = null;
      return;
    }
    const seq = ++this.seq;
    this.checking = true;
    try {
      const preview = await editApi.preview(this.section, this.name, this.action, this.value, this.base);
      if (seq !== this.seq) return;
      this.preview = preview;
      this.stale = preview.stale;
      if (!this.saving) this.problem = '';
    } catch (e) {
      if (seq === this.seq) this.problem = e instanceof Error ? e.message : String(e);
    } finally {
      if (seq === this.seq) this.checking = false;
    }
  }

  /** Saves on `base`; true when written. A stale base is refused by the gateway, not here. */
  async save(): Promise<boolean> {
    this.later.cancel();
    this.saving = true;
    try {
      const outcome = await editApi.write(this.section, this.name, this.action, this.value, this.base);
      this.base = outcome.revision;
      this.stale = false;
      this.problem = '';
      return true;
    } catch (e) {
      this.problem = e instanceof Error ? e.message : String(e);
      if (e instanceof ApiError && e.code === 'stale_revision') this.stale = true;
      await this.check();
      return false;
    } finally {
      this.saving = false;
    }
  }

  /** Re-applies the change on the file as it is now (after reviewing its diff). */
  async rebase() {
    const preview = this.preview ?? (await editApi.preview(this.section, this.name, this.action, this.value, null));
    this.base = preview.revision;
    this.stale = false;
    this.problem = '';
    await this.check();
  }

  dispose() {
    this.later.cancel();
    this.seq++;
  }
}
