// Moving files to S3 from the browser: each file's SHA-256, the presigned POST with upload
// progress (XMLHttpRequest: fetch reports no upload progress), retries with backoff, a small pool
// of parallel transfers, and what a reload needs to pick up where it left off.

export const PARALLEL = 4;
export const RETRIES = 3;
const BACKOFF_MS = 800;
const IMAGE_TYPES = new Map([["jpg", "image/jpeg"], ["jpeg", "image/jpeg"], ["png", "image/png"]]);

/** SHA-256 of a file as lower-case hex (what the API's duplicate check compares). */
export async function sha256(file) {
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** JPEG or PNG by the file's name (the form's policy fixes the type; the trigger reads the bytes). */
export function imageType(name) {
  return IMAGE_TYPES.get(String(name).split(".").pop().toLowerCase()) || null;
}

export class TransferError extends Error {
  constructor(message, { status = 0, retry = false, expired = false } = {}) {
    super(message);
    this.status = status;
    this.retry = retry;
    this.expired = expired;
  }
}

/** POST `file` through a presigned form; onProgress(fraction). Resolves when S3 has stored it. */
export function postForm(form, file, onProgress, signal) {
  return new Promise((resolve, reject) => {
    const body = new FormData();
    for (const [key, value] of Object.entries(form.fields)) body.append(key, value);
    body.append("file", file, form.filename);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.url);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve();
      const code = /<Code>([^<]+)<\/Code>/.exec(xhr.responseText || "")?.[1] || "";
      const message = /<Message>([^<]+)<\/Message>/.exec(xhr.responseText || "")?.[1] || `storage answered ${xhr.status}`;
      const expired = /expired/i.test(message) || code === "AccessDenied" && /expir/i.test(xhr.responseText);
      reject(new TransferError(message, { status: xhr.status, retry: xhr.status >= 500 || xhr.status === 429, expired }));
    };
    xhr.onerror = () => reject(new TransferError("the connection to storage failed", { retry: true }));
    xhr.ontimeout = () => reject(new TransferError("the upload timed out", { retry: true }));
    signal?.addEventListener("abort", () => xhr.abort());
    xhr.onabort = () => reject(new TransferError("stopped"));
    xhr.send(body);
  });
}

/** postForm with up to RETRIES retries of a failure worth retrying, waiting longer each time. */
export async function postWithRetry(getForm, file, { onProgress, onRetry, signal, wait = sleep }) {
  for (let attempt = 0; ; attempt += 1) {
    const form = await getForm(attempt > 0);
    try {
      await postForm(form, file, onProgress, signal);
      return form;
    } catch (error) {
      if (signal?.aborted || !(error instanceof TransferError) || !(error.retry || error.expired) || attempt >= RETRIES) throw error;
      const delay = BACKOFF_MS * 2 ** attempt;
      onRetry?.(attempt + 1, delay, error);
      await wait(delay);
    }
  }
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Run `work(item)` over `items`, at most `parallel` at a time. */
export async function pool(items, parallel, work) {
  const queue = [...items];
  const runners = Array.from({ length: Math.min(parallel, queue.length) }, async () => {
    while (queue.length) await work(queue.shift());
  });
  await Promise.all(runners);
}

/**
 * What survives a reload, per batch, in localStorage: the batch id, and per file (by name) its
 * hash, size, form (until it is used or expires: a new form for a file whose old one is still open
 * is refused as a duplicate) and whether it was sent.
 */
export class UploadMemory {
  constructor(batchId, storage = window.localStorage) {
    this.key = `cradle.upload.${batchId}`;
    this.storage = storage;
    this.state = this.read();
  }

  read() {
    try {
      return JSON.parse(this.storage.getItem(this.key) || "null") || { files: {} };
    } catch {
      return { files: {} };
    }
  }

  file(name) {
    return this.state.files[name] || null;
  }

  /** A stored form still usable for at least a minute, or null. */
  form(name) {
    const form = this.file(name)?.form;
    return form && Date.parse(form.expires_at) - Date.now() > 60e3 ? form : null;
  }

  remember(name, values) {
    this.state.files[name] = { ...(this.state.files[name] || {}), ...values };
    this.save();
  }

  save() {
    try {
      this.storage.setItem(this.key, JSON.stringify(this.state));
    } catch {
      // A full storage only costs the resume, never the upload.
    }
  }

  forget() {
    this.storage.removeItem(this.key);
  }

  static batches(storage = window.localStorage) {
    return Object.keys(storage).filter((k) => k.startsWith("cradle.upload.")).map((k) => Number(k.slice("cradle.upload.".length))).filter((id) => id > 0);
  }
}
