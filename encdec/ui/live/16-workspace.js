// Chapter 16: a classroom server's workspace key. Made here once (192 random bits), kept in this browser's
// localStorage and in a cookie that only this site's pages send back (so that a new page of the same
// browser is known from its very first run), told to Python when it does not know it yet. A key from a
// personal link replaces it.

const KEY_NAME = "encdec-workspace";
const KEY_COOKIE = "encdec_key";

function workspaceView(root, d, setStateValue) {
  let key = d.adopt || null;
  try { key = key || localStorage.getItem(KEY_NAME); } catch (e) { /* storage refused: a key for this tab only */ }
  if (!/^[A-Za-z0-9_-]{32,64}$/.test(key || "")) {
    const bytes = crypto.getRandomValues(new Uint8Array(24));
    key = btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  try { localStorage.setItem(KEY_NAME, key); } catch (e) { /* a private window may keep nothing */ }
  document.cookie = `${KEY_COOKIE}=${key}; path=/; max-age=31536000; SameSite=Strict`;
  root.dataset.ready = "1";
  if (!d.known) setStateValue("browser_key", key);
  return null;
}
