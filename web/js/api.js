// The Cradle API over fetch: the ID token as a bearer token, JSON in and out, RFC 9457 problem
// documents turned into ApiError, and the ETag of annotation answers handed back to the caller.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }

  get title() {
    return this.problem.title || `Request failed (${this.status})`;
  }

  /** [{location, message}] from a 422, or [] */
  get fieldErrors() {
    return Array.isArray(this.problem.errors) ? this.problem.errors : [];
  }
}

export function createApi({ base, session, onSignedOut }) {
  async function request(method, path, { query, body, ifMatch, keepalive } = {}) {
    const url = new URL(base + path, document.baseURI);
    for (const [key, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, String(value));
    }
    const send = async () => {
      const token = await session.token();
      const headers = { Accept: "application/json, application/problem+json" };
      if (token) headers.Authorization = `Bearer ${token}`;
      if (body !== undefined) headers["Content-Type"] = "application/json";
      if (ifMatch !== undefined && ifMatch !== null) headers["If-Match"] = `"${ifMatch}"`;
      return fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
        keepalive: Boolean(keepalive),
      });
    };
    let response;
    try {
      response = await send();
      if (response.status === 401 && (await session.refresh())) response = await send();
    } catch (error) {
      throw new ApiError(0, { title: "Network error", detail: "The API cannot be reached. Check your connection." });
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!response.ok) {
      if (response.status === 401) onSignedOut?.();
      throw new ApiError(response.status, data);
    }
    const etag = response.headers.get("ETag");
    return { data, status: response.status, etag: etag ? Number(etag.replace(/^W\//, "").replaceAll('"', "")) : null };
  }

  const call = (method) => async (path, options) => (await request(method, path, options)).data;
  return {
    request,
    get: call("GET"),
    post: call("POST"),
    put: call("PUT"),
    patch: call("PATCH"),
    del: call("DELETE"),
    /** Every item of a paged list (follows next_cursor), up to `max` items. */
    async all(path, query = {}, max = 1000) {
      const items = [];
      let cursor = null;
      do {
        const page = await this.get(path, { query: { ...query, limit: 200, cursor } });
        items.push(...page.items);
        cursor = page.next_cursor;
      } while (cursor && items.length < max);
      return items;
    },
  };
}
