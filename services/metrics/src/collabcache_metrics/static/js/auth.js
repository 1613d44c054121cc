// The metrics service's optional bearer token (README, "Security"). Open the dashboard as
// /#token=<METRICS_TOKEN>: the token is read from the fragment once (a fragment never reaches
// the server, its logs or a Referer), kept in this tab's sessionStorage, and removed from the
// address bar; every request for data then carries it as `Authorization: Bearer <token>`.

const STORAGE_KEY = "collabcache.metrics.token";
let remembered = null; // when sessionStorage is unavailable (e.g. storage disabled)

function store(token) {
  remembered = token;
  try {
    sessionStorage.setItem(STORAGE_KEY, token);
  } catch {
    // the token still lives in memory for as long as the page is open
  }
}

function stored() {
  try {
    return sessionStorage.getItem(STORAGE_KEY) ?? remembered;
  } catch {
    return remembered;
  }
}

// Moves a `#token=...` from the URL into storage (once, when the page loads). Read by hand
// rather than with URLSearchParams, which would turn a `+` of the token into a space.
export function takeTokenFromUrl() {
  const parts = window.location.hash.slice(1).split("&");
  const index = parts.findIndex((part) => part.startsWith("token="));
  if (index < 0) return;
  const raw = parts.splice(index, 1)[0].slice("token=".length);
  let token = raw;
  try {
    token = decodeURIComponent(raw);
  } catch {
    // not percent-encoded after all: take it as written
  }
  if (token) store(token);
  const rest = parts.filter(Boolean).join("&");
  const url = window.location.pathname + window.location.search + (rest ? `#${rest}` : "");
  window.history.replaceState(window.history.state, "", url);
}

export function hasToken() {
  return Boolean(stored());
}

// Request headers with the token, when there is one.
export function withToken(headers) {
  const token = stored();
  return token ? { ...headers, Authorization: `Bearer ${token}` } : headers;
}

// What to tell the reader when the service answers 401.
export function unauthorizedMessage() {
  return hasToken()
    ? "the service refused the token: open this page as /#token=<METRICS_TOKEN> with the " +
        "service's current token"
    : "the service requires a token: open this page as /#token=<METRICS_TOKEN>";
}
