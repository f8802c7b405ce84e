import streamlit as st

from encdec import settings
from encdec.data import class_names
from encdec.follow import lesson_key
from encdec.lesson import TASKS
from encdec.projection import CODE_NEIGHBOURS, MapSettings
from encdec.store import shipped_store_dir
from encdec.ui import cache, live, progress, state, visitor
from encdec.ui.common import lang, models_of, owner, page, t
from encdec.ui.lesson import STEPS, step_texts
from encdec.ui.state import Key, Link
from encdec.urlstate import LinkError, parse_bounded_int

present = state.link(Link.PRESENT) == "1"
if present:  # a projector: no sidebar, no header, large type (the lesson's own element does the rest)
    st.html("<style>[data-testid='stSidebar'], [data-testid='stSidebarCollapsedControl'], header "
            "{display: none !important;} .block-container {padding-top: 1rem; max-width: 100%;}</style>")
info = page("page_lesson", None if present else "lesson_intro")
dataset_name = info.config.dataset
names = class_names(dataset_name)
tasks = TASKS[dataset_name]
roles = {"enc": info}
shipped = {i.name: i for i in models_of(None, dataset_name).values() if i.shipped}


def first(*candidates):
    return next((c for c in candidates if c is not None), None)


roles["ae"] = first(info if info.config.kind in ("autoencoder", "vae") else None,
                    shipped.get(f"{'mnist' if dataset_name == 'mnist' else 'fashion'}-cnn-ae-16"),
                    next(iter(models_of("autoencoder", dataset_name).values()), None))
roles["clf"] = first(info if info.config.kind == "classifier" else None,
                     shipped.get("mnist-cnn-clf" if dataset_name == "mnist" else "fashion-cnn-clf"),
                     next(iter(models_of("classifier", dataset_name).values()), None))
roles["plane"] = first(info if info.config.code_dim == 2 and info.config.kind != "classifier" else None,
                       next((i for i in models_of("autoencoder", dataset_name, 2).values()), None))
missing = [role for role, found in roles.items() if found is None or cache.weights_url(found) is None]
if missing:
    st.warning(t("lesson_needs", roles=", ".join(t(f"lesson_role_{r}") for r in missing)))
    st.stop()

digests = {}
for role in ("ae", "plane"):
    found, making = cache.digest(roles[role])
    if found is None:
        progress.wait_for(making, f"digest-lesson-{role}", t("preparing_codes", n=len(cache.split(dataset_name, "test"))))
    digests[role] = found
ae_map, fitting = cache.map_now(roles["ae"], "test", MapSettings(), owner())
plane_map, _ = cache.map_now(roles["plane"], "test", MapSettings("raw"), owner())
if ae_map is None or plane_map is None:
    progress.wait_for(fitting, "lesson-map", t("map_pending", n=len(cache.split(dataset_name, "test"))))

# -- where each step starts: worked out once for the shipped models (models/lesson.json) ----------------
worked = cache.lesson_file(str(shipped_store_dir())).get(dataset_name, {})
flip = worked.get("flips", {}).get(f"{roles['ae'].name}|{roles['clf'].name}")
ae_digest = digests["ae"]
if flip is None:  # a model of someone's own: the first digit of the class, the dimensions by their effect
    test = cache.split(dataset_name, "test")
    flip = {"index": int((test.labels == tasks["flip"][0]).nonzero()[0]), "dims": [int(d) for d in ae_digest["order"][:6]]}
start_code = [round(float(v), 4) for v in ae_digest["codes"][flip["index"]]]

try:
    step = (parse_bounded_int(state.link(Link.STEP), 1, len(STEPS), t("lesson_step")) or 1) - 1
except LinkError as e:
    st.warning(t(f"link_{e.key}", **e.values))
    step = 0
saved = {k: state.link(k) for k in Link.LESSON_STATE if state.link(k) is not None}
person = visitor.current()
leads = person.shared and person.teacher
blobs = {"enc": cache.weights_url(roles["enc"]), "ae": cache.weights_url(roles["ae"]), "clf": cache.weights_url(roles["clf"]),
         "plane": cache.weights_url(roles["plane"]), "atlas": cache.atlas_url(dataset_name, "test"),
         "ae_codes": cache.codes_url(roles["ae"], "test"), "ae_map": cache.map_url(roles["ae"], "test", ae_map),
         "plane_map": cache.map_url(roles["plane"], "test", plane_map),
         "frames_ae": cache.frames_url(roles["ae"]), "frames_clf": cache.frames_url(roles["clf"])}
data = {
    "view": "lesson", "blobs": blobs, "step": step, "states": {step: saved}, "present": present,
    "follow": visitor.shared_mode(), "teacher": lesson_key(settings.home()) if leads else None,
    "classes": list(names), "text": step_texts(lang(), dataset_name, roles, tasks),
    "lesson": {"k": CODE_NEIGHBOURS,
               "numbers": {"start": start_code, "order": flip["dims"], "target": tasks["flip"][1],
                           "low": [round(float(v), 4) for v in ae_digest["low"]],
                           "high": [round(float(v), 4) for v in ae_digest["high"]]},
               "plane": {"target": tasks["plane"]},
               "classifier": {"index": int((cache.split(dataset_name, "test").labels == tasks["misread"]).nonzero()[0]),
                              "target": tasks["misread"]},
               "loss": {"names": [roles["ae"].name, roles["clf"].name]},
               "probe": worked.get("probes", {}).get(roles["ae"].name),
               "arith": {"picks": cache.bold_example(dataset_name, *tasks["arith"])}},
}
live.view(Key.LESSON_VIEW, data)
