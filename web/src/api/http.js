// One way to call the services from the page: JSON in, JSON out, RFC 9457 problems as
// ApiError, a service that cannot be reached as Unreachable (so the page can say "the
// system is down" rather than "error"). No crypto here: bytes in, bytes out.

/** A service answered with an error (its problem+json document, when it sent one). */
export class ApiError extends Error {
  constructor(service, status, problem) {
    super(problem?.detail || problem?.title || `${service} answered ${status}`);
    this.name = "ApiError";
    this.service = service;
    this.status = status;
    this.problem = problem ?? {};
    this.slug = String(this.problem.type ?? "").split("/").pop();
  }
}

/** The service did not answer at all (down, or the network is). */
export class Unreachable extends Error {
  constructor(service, cause) {
    super(`${service} cannot be reached`);
    this.name = "Unreachable";
    this.service = service;
    this.cause = cause;
  }
}

function withQuery(url, query) {
  if (!query) return url;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null) params.append(k, String(v));
  }
  const text = params.toString();
  return text ? `${url}?${text}` : url;
}

async function problemOf(resp) {
  const type = resp.headers.get("content-type") ?? "";
  if (!type.includes("json")) return null;
  try {
    return await resp.json();
  } catch {
    return null;
  }
}

/** A client of one service: `base` its URL, `name` what errors call it. */
export function client(name, base, tokenSource = () => null) {
  const root = base.replace(/\/+$/, "");

  async function send(method, path, { json, query, body, headers = {}, raw = false } = {}) {
    const h = { Accept: "application/json", ...headers };
    const token = tokenSource();
    if (token) h.Authorization = `Bearer ${token}`;
    let payload = body;
    if (json !== undefined) {
      h["Content-Type"] = "application/json";
      payload = JSON.stringify(json);
    }
    let resp;
    try {
      resp = await fetch(withQuery(root + path, query), { method, headers: h, body: payload });
    } catch (exc) {
      throw new Unreachable(name, exc);
    }
    if (!resp.ok) throw new ApiError(name, resp.status, await problemOf(resp));
    if (raw) return resp;
    if (resp.status === 204) return null;
    const type = resp.headers.get("content-type") ?? "";
    return type.includes("json") ? resp.json() : resp.text();
  }

  return {
    name,
    url: root,
    get: (path, opts) => send("GET", path, opts),
    post: (path, json, opts = {}) => send("POST", path, { ...opts, json }),
    put: (path, json, opts = {}) => send("PUT", path, { ...opts, json }),
    del: (path, opts) => send("DELETE", path, opts),
    bytes: async (path) => new Uint8Array(await (await send("GET", path, { raw: true })).arrayBuffer()),
  };
}

/**
 * PUT `bytes` to a presigned URL (S3) with its signed headers, telling `onProgress`
 * (sent, total) as it goes. fetch() reports no upload progress, XMLHttpRequest does.
 */
export function putPresigned(url, headers, bytes, onProgress = () => {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    for (const [k, v] of Object.entries(headers ?? {})) {
      // The browser sets Host and Content-Length itself and refuses to be told them.
      if (!["host", "content-length"].includes(k.toLowerCase())) xhr.setRequestHeader(k, v);
    }
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : bytes.length);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(bytes.length, bytes.length);
        resolve();
      } else {
        reject(new ApiError("storage", xhr.status, { title: "The storage refused the upload", detail: xhr.responseText.slice(0, 200) }));
      }
    };
    xhr.onerror = () => reject(new Unreachable("storage", null));
    xhr.send(bytes);
  });
}
