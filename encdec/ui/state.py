"""Every value a session keeps between script runs, and every parameter of a link, in one place.

Pages and the rest of encdec/ui ask here: nothing else touches `st.session_state` by a bare name, and
nothing else touches `st.query_params` at all. Widget keys are session keys too: they are named in
`Key` (a widget's key is its value's name in the session).
"""
from __future__ import annotations


import streamlit as st


class Link:
    """Parameters of a link, as the address shows them."""
    LANG, DATA, MODEL = "lang", "data", "model"         # the sidebar's pickers (bound: Streamlit writes them)
    WORKSPACE = "workspace"                             # a personal link's key: read once, then taken out
    START, CODE = "start", "z"                          # the code editor (its element writes them)
    INTERPOLATION = ("ia", "ib", "is", "ip")            # from, to, steps, path
    ARITHMETIC = ("aa", "ab", "ac")                     # A, B, C
    CODE_DIM, EPOCHS = "code", "epochs"                 # the Train page
    STEP, PRESENT = "step", "present"                   # the lesson
    LESSON_STATE = ("z", "xy", "f", *ARITHMETIC)        # what its steps show (its element writes them: 20-lesson.js)


class Key:
    """Widget keys (and keys of the element's views), by page."""
    LANG, DATA, MODEL = Link.LANG, Link.DATA, Link.MODEL
    WORKSPACE_VIEW = "workspace"
    EDITOR_VIEW, INTERPOLATION_VIEW, ARITHMETIC_VIEW = "live-editor", "interpolation", "arithmetic"
    MAP_SPLIT, MAP_METHOD, MAP_NEIGHBORS, MAP_MIN_DIST, MAP_METRIC = ("map_split", "map_method", "map_neighbors",
                                                                      "map_min_dist", "map_metric")
    MAP_VIEW, MAP_JOB = "explore", "map-job"
    DRAW_CLASSIFIER, DRAW_UPLOAD, DRAW_VIEW = "draw_clf", "draw_upload", "draw"
    CLF_MODEL, CLF_INDEX, CLF_MATRIX, CLF_TRUE, CLF_PRED, CLF_AE = ("clf_model", "clf_index", "clf_matrix", "clf_true",
                                                                    "clf_pred", "clf_ae")
    PROBE_SOURCE, PROBE_LABELS = "probe_ae", "probe_save_n"
    DECODER_SOURCE, DECODER_KIND, DECODER_EPOCHS, DECODER_SIZE = "dec_clf", "dec_kind", "dec_epochs", "dec_size"
    TRAIN_KIND, TRAIN_ENCODER, TRAIN_DECODER, TRAIN_NAME = "kind", "encoder", "decoder", "train_name"
    TRAIN_CODE, TRAIN_EPOCHS, TRAIN_LR, TRAIN_SIZE, TRAIN_GPU = Link.CODE_DIM, Link.EPOCHS, "train_lr", "train_size", "train_gpu"
    TRAIN_START, PROBE_RUN, PROBE_SAVE, DECODER_RUN = "start_training", "probe_run", "probe_save", "decoder_run"
    DELETE, DELETE_YES, DELETE_NO, PUBLISH, UNPUBLISH, TEACHER_ENTER = ("delete", "delete_yes", "delete_no", "publish",
                                                                       "unpublish", "teacher_enter")
    UPLOAD, TEACHER_PASSWORD, REPLAY_VIEW = "model_upload", "teacher_typed", "frames_replay"
    LESSON_VIEW = "lesson"

    @staticmethod
    def augment(kind: str, dataset: str) -> str:
        return f"augment_{kind}_{dataset}"

    @staticmethod
    def job_view(slot: str) -> str:
        return f"job-{slot}"


def link(name: str) -> str | None:
    return st.query_params.get(name)


def drop_link(name: str) -> None:
    if name in st.query_params:
        del st.query_params[name]


def set_link(**values) -> None:
    st.query_params.update({k: str(v) for k, v in values.items()})


def switch_page(page: str) -> None:
    """Go to another page. Its link starts empty but for the sidebar's pickers, which write themselves
    back (Streamlit refuses to clear parameters bound to widgets the usual way, so none are named here)."""
    st.switch_page(page, query_params={})


def element_value(key: str, name: str):
    """The value `name` an element's view sent back last (its state lives under the view's key)."""
    value = st.session_state.get(key)
    if isinstance(value, dict):
        return value.get(name)
    return getattr(value, name, None)


# -- values the session keeps ---------------------------------------------------------------------------

def get(name: str, default=None):
    return st.session_state.get(_NAMES[name], default)


def put(name: str, value) -> None:
    st.session_state[_NAMES[name]] = value


def pop(name: str, default=None):
    return st.session_state.pop(_NAMES[name], default)


def once(name: str, value) -> object:
    """The value kept under `name`, set to `value` the first time."""
    return st.session_state.setdefault(_NAMES[name], value)


# What each name holds (the session key is the name, with a mark that keeps it apart from widget keys).
DOC = {
    "current": "the current model (a ModelInfo), chosen in the sidebar",
    "pending_model": "a model to make current on the next run (a saved training, an upload)",
    "asked_model": "the model a link asked for, kept until this visitor's models are known",
    "not_visible": "(name, page): a model a link asked for that this visitor cannot open, said on that page",
    "where": "the page the last run showed (to notice a change of page)",
    "kept": "the sidebar's picker values to put back on a change of page",
    "workspace_key": "a classroom visitor's browser key",
    "workspace_from_link": "whether that key came with a personal link (the browser adopts it)",
    "edit_request": "(Start, code) sent to the code editor from another page",
    "editor": "the code editor's start and version (editor.Editor)",
    "jobs": "this session's jobs, by slot (train, probe, probe_model, decoder)",
    "adopted": "jobs whose saved model has been made current",
    "flash": "one sentence to show after the next run (a deletion, a publish)",
    "uploaded": "the id of the last upload handled",
    "upload_error": "the sentence an upload failed with",
    "seen_link": "link settings read once per session (the Train page's)",
    "suggested_name": "the Train page's last suggested name (the name follows the settings until typed)",
    "clf_clicked": "the confusion-matrix cell clicked last",
    "probe_of": "the autoencoder the shown probe was run on",
    "edits_seen": "the last edit sent back from each view",
    "lesson": "the lesson's step and whether it follows the teacher",
}
_NAMES = {name: f"_encdec_{name}" for name in DOC}


