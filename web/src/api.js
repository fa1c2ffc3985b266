// Every call to Vigil's HTTP APIs: the token as HTTP Basic auth, errors turned into messages that
// say what went wrong and what to do.

const TOKEN_KEY = "vigil.token";

export const session = {
  token: sessionStorage.getItem(TOKEN_KEY),
  role: null,
  name: null,
  get canEdit() { return this.role === "admin"; },
};

export class ApiError extends Error {
  constructor(status, message, params = null) {
    super(message);
    this.status = status;
    this.params = params; // {field: [reasons]} of a 400 `params` error, for inline messages
  }
}

let onUnauthorized = () => {};
export function whenUnauthorized(handler) { onUnauthorized = handler; }

function basic(token) {
  // btoa() only takes Latin-1: encode the UTF-8 bytes of "token:".
  const bytes = new TextEncoder().encode(`${token}:`);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return `Basic ${btoa(binary)}`;
}

export function authHeaders(token = session.token) {
  return token ? { Authorization: basic(token) } : {};
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "") continue;
    if (Array.isArray(value)) value.forEach((v) => q.append(key, v));
    else q.append(key, value);
  }
  const text = q.toString();
  return text ? `?${text}` : "";
}

// The message of an error body in any of the formats Vigil's API families answer with.
export function errorMessage(body, status) {
  if (Array.isArray(body) && Array.isArray(body[0]) && body[0][0] === "Error" && body[1]) {
    return `${body[1][0]}: ${body[1][1]}`; // stacky's error rows
  }
  if (body && typeof body === "object") {
    if (typeof body.error === "string") return body.error; // rate limit
    const errors = body.errors;
    if (errors && typeof errors === "object") {
      const parts = [];
      for (const [kind, value] of Object.entries(errors)) {
        if (Array.isArray(value)) parts.push(...value.map(String));
        else if (value && typeof value === "object") {
          for (const [name, reasons] of Object.entries(value)) parts.push(`${name} ${[].concat(reasons).join(", ")}`);
        } else parts.push(`${kind}: ${value}`);
      }
      if (parts.length) return parts.join("; ");
    }
    if (Array.isArray(body.errors)) return body.errors.join("; ");
  }
  return `The server answered ${status}.`;
}

const HINTS = {
  403: "This token's role may not do this.",
  429: "Too many requests for this token: wait a minute and try again.",
  503: "The server is busy or a part of it is not ready: try again in a moment.",
};

export async function api(path, { method = "GET", body, params, signal, token, raw = false } = {}) {
  const headers = { Accept: "application/json", ...authHeaders(token ?? session.token) };
  const init = { method, headers, signal, credentials: "omit", cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path + query(params), init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "Vigil is not reachable. Check that the server is running and the network is up, then retry.");
  }
  if (raw && response.ok) return response;
  const text = await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (response.ok) return data;
  const message = errorMessage(data, response.status);
  const params_ = data && data.errors && typeof data.errors.params === "object" && !Array.isArray(data.errors.params)
    ? data.errors.params : null;
  if (response.status === 401 && token === undefined) onUnauthorized(message);
  const hint = HINTS[response.status];
  throw new ApiError(response.status, hint && !message.includes(hint) ? `${message} ${hint}` : message, params_);
}

export function saveToken(token, who) {
  session.token = token;
  session.role = who.role;
  session.name = who.name;
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function signOut() {
  session.token = null;
  session.role = null;
  session.name = null;
  sessionStorage.removeItem(TOKEN_KEY);
}

// Every page of an AppOptics-style listing ({query: {found, offset, length}, <key>: [...]}), at most `limit` items.
export async function listAll(path, key, params = {}, limit = 1000) {
  const items = [];
  let offset = 0;
  while (items.length < limit) {
    const page = await api(path, { params: { ...params, offset, length: 100 } });
    const found = page[key] || [];
    items.push(...found);
    const q = page.query || {};
    offset += found.length;
    if (!found.length || offset >= (q.found ?? q.total ?? 0)) break;
  }
  return items.slice(0, limit);
}
