// Autosaving an annotation draft with the API's ETag flow.
// The first save of an image sends no If-Match; every later one sends the row version the last
// answer's ETag gave. A 412 means someone (another tab) saved in between: the caller reloads the
// server's draft and tells the user. States: saved, unsaved, saving, conflict, error.

import { ApiError } from "../api.js";
import { debounce } from "../dom.js";

const AUTOSAVE_MS = 1200;

export class DraftSaver {
  constructor({ api, imageId, rowVersion, body, onState, onSaved, onConflict, onError }) {
    Object.assign(this, { api, imageId, rowVersion, body, onState, onSaved, onConflict, onError });
    this.changes = 0;
    this.savedChanges = 0;
    this.inFlight = null;
    this.state = "saved";
    this.closed = false;
    this.debounced = debounce(() => this.save().catch(() => {}), AUTOSAVE_MS);
  }

  get dirty() {
    return this.changes !== this.savedChanges;
  }

  /** Something changed: save soon. */
  changed() {
    if (this.closed) return;
    this.changes += 1;
    this.#set("unsaved");
    this.debounced();
  }

  /** Save now if anything is unsaved (and wait for a save already under way). */
  async flush() {
    this.debounced.cancel();
    if (this.inFlight) await this.inFlight.catch(() => {});
    if (this.dirty || this.rowVersion === null) await this.save();
  }

  async save() {
    this.debounced.cancel();
    if (this.inFlight) {
      await this.inFlight.catch(() => {});
      if (!this.dirty) return;
    }
    const upTo = this.changes;
    this.#set("saving");
    this.inFlight = this.api
      .request("PUT", `/images/${this.imageId}/annotation`, { body: this.body(), ifMatch: this.rowVersion })
      .then(({ data, etag }) => {
        this.rowVersion = etag ?? data.row_version;
        this.savedChanges = upTo;
        this.#set(this.dirty ? "unsaved" : "saved");
        this.onSaved?.(data);
        if (this.dirty) this.debounced();
      })
      .catch(async (error) => {
        if (error instanceof ApiError && error.status === 412) {
          this.#set("conflict");
          await this.onConflict?.();
        } else {
          this.#set("error");
          this.onError?.(error);
        }
        throw error;
      })
      .finally(() => {
        this.inFlight = null;
      });
    return this.inFlight;
  }

  /** After a reload from the server: this version, nothing unsaved. */
  reset(rowVersion) {
    this.debounced.cancel();
    this.rowVersion = rowVersion;
    this.savedChanges = this.changes;
    this.#set("saved");
  }

  close() {
    this.closed = true;
    this.debounced.cancel();
  }

  #set(state) {
    this.state = state;
    this.onState?.(state);
  }
}
