// Chapter 99: the element. Streamlit calls this for every mount with the view's description (JSON):
// which view, the addresses of the blobs it needs, its words in the page's language. The blobs are fetched
// (once per page; the browser keeps them), then the view is drawn. A view whose points come first (the
// map) is drawn as soon as they are here, and goes live when the model and the codes follow.

const VIEWS = {editor: editorView, interpolation: rowView, arithmetic: rowView, draw: drawView, replay: replayView,
               job: jobView, points: pointsView, lesson: lessonView};
const PLAIN = {bars: barsView, probs: probsView};  // drawn from their data alone

export default function (component) {
  const {data, parentElement, setStateValue, key} = component;
  const d = {...data, key};
  const root = parentElement.querySelector(".live") || parentElement.appendChild(el("div", {className: "live"}));
  root.dataset.view = d.view;
  if (d.view === "workspace") return workspaceView(root, d, setStateValue);
  if (PLAIN[d.view]) return PLAIN[d.view](root, d);
  let cleanup = null, gone = false;
  const fail = () => { if (!gone) root.replaceChildren(el("div", {className: "caption", textContent: (d.text || {}).gone || "Reload the page."})); };
  if (d.view === "explore") {                            // the map is drawn before the model and the codes are here
    const {map, ...rest} = d.blobs;
    blob(map).then((positions) => {
      if (gone) return;
      root.dataset.ready = "1";
      cleanup = exploreView(root, d, positions, blobs(rest), setStateValue);
    }).catch(fail);
    return () => { gone = true; if (cleanup) cleanup(); };
  }
  blobs(d.blobs).then((got) => {
    if (gone) return;
    root.dataset.ready = "1";
    cleanup = VIEWS[d.view](root, d, got, setStateValue);
  }).catch(fail);
  return () => { gone = true; if (cleanup) cleanup(); };
}
