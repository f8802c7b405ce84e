// Chapter 6: the link. A view that the hand changes keeps its state in the page's address itself
// (history.replaceState), so a link always restores the exact screen and Python hears nothing. Streamlit
// writes the address too (its pickers, a change of page); every write passes through here, which puts
// back the parameters a view owns on its own page and takes them off every other page.

const owned = new Map();                                 // page (last part of the path) -> {name: value}
const inPage = typeof history !== "undefined";
const write = inPage ? {push: history.pushState.bind(history), replace: history.replaceState.bind(history)} : {};
const pageOf = (path) => path.replace(/\/+$/, "").split("/").pop() || "";

function withOwned(url) {
  const u = new URL(url === undefined || url === null ? location.href : url, location.href);
  const here = pageOf(u.pathname);
  for (const [page, params] of owned) {
    for (const [name, value] of Object.entries(params)) {
      if (page !== here) {
        if (!(owned.get(here) || {})[name]) u.searchParams.delete(name);
      } else if (value === null) u.searchParams.delete(name);
      else u.searchParams.set(name, value);
    }
  }
  return u.pathname + u.search + u.hash;
}

if (inPage) {
  history.pushState = (state, title, url) => write.push(state, title, withOwned(url));
  history.replaceState = (state, title, url) => write.replace(state, title, withOwned(url));
}

/** Keep `params` ({name: text, or null to leave it out}) in the address while `page` is open. */
export function own(page, params) {
  owned.set(page, {...(owned.get(page) || {}), ...params});
  if (pageOf(location.pathname) === page) write.replace(history.state, "", withOwned(location.href));
}
