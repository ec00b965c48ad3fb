// Autosaving an annotation draft with the API's ETag flow.
// The first save of an image sends no If-Match; every later one sends the row version the last
// answer's ETag gave. A 412 means someone (another tab) saved in between: the caller reloads the
// server's draft and tells the user. States: saved, unsaved, saving, conflict, error.
//
// A change must survive a reload made a moment after it (before the debounced save, or while a
// save is in flight, which the browser aborts on unload). So every change is first written to
// localStorage under the image and the row version it was made on, and leaving the page sends
// the draft with fetch's keepalive (sendBeacon cannot carry the Authorization header). On
// return, a local draft made on the server's current version is newer than the server's: it is
// restored and saved. One made on an older version was saved (or overtaken) meanwhile: dropped.

import { ApiError } from "../api.js";
import { debounce } from "../dom.js";

const AUTOSAVE_MS = 1200;
const PREFIX = "cradle.draft";

function localKey(imageId, rowVersion) {
  return `${PREFIX}.${imageId}.${rowVersion ?? "new"}`;
}

function storage() {
  try {
    return window.localStorage;
  } catch {
    return null; // storage disabled: the server save still happens
  }
}

/**
 * The body of an unsaved local draft of this image that is newer than the server's version
 * `rowVersion`, or null; the others go. Newer: made on that version, or made while the save
 * that produced that version was in flight (the page left before its answer came back).
 */
export function takeLocalDraft(imageId, rowVersion) {
  const store = storage();
  if (!store) return null;
  let found = null;
  for (const key of Object.keys(store)) {
    if (!key.startsWith(`${PREFIX}.${imageId}.`)) continue;
    let entry = null;
    try {
      entry = JSON.parse(store.getItem(key));
    } catch {
      entry = null;
    }
    const base = entry?.base ?? null;
    const newer = entry && (base === rowVersion || (entry.inFlight && base !== null && rowVersion === base + 1) || (entry.inFlight && base === null && rowVersion === 1));
    if (newer && (!found || entry.at > found.at)) found = entry;
    store.removeItem(key);
  }
  return found ? found.body : null;
}

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
    this.#keepLocally();
    this.#set("unsaved");
    this.debounced();
  }

  /** The page is going away: send what is unsaved with a request that outlives the page. */
  saveOnUnload() {
    if (this.closed || !this.dirty) return;
    this.debounced.cancel();
    this.#keepLocally();
    // A save in flight would make this one's If-Match stale (412): the local copy covers it.
    if (this.inFlight) return;
    this.api
      .request("PUT", `/images/${this.imageId}/annotation`, { body: this.body(), ifMatch: this.rowVersion, keepalive: true })
      .catch(() => {}); // the local draft is still there for the next visit
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
        const before = this.rowVersion;
        this.rowVersion = etag ?? data.row_version;
        this.savedChanges = upTo;
        storage()?.removeItem(localKey(this.imageId, before));
        if (this.dirty) this.#keepLocally();
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
    storage()?.removeItem(localKey(this.imageId, this.rowVersion));
    this.rowVersion = rowVersion;
    this.savedChanges = this.changes;
    this.#set("saved");
  }

  close() {
    this.closed = true;
    this.debounced.cancel();
  }

  /** Drop the local copy (the draft was submitted or given up). */
  forget() {
    storage()?.removeItem(localKey(this.imageId, this.rowVersion));
  }

  #keepLocally() {
    try {
      const entry = { base: this.rowVersion, inFlight: Boolean(this.inFlight), at: Date.now(), body: this.body() };
      storage()?.setItem(localKey(this.imageId, this.rowVersion), JSON.stringify(entry));
    } catch {
      // quota or privacy mode: the server save still happens
    }
  }

  #set(state) {
    this.state = state;
    this.onState?.(state);
  }
}
