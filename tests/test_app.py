"""The app through streamlit.testing.v1.AppTest: every page, both languages, what Python sends the page's
element (small descriptions and blob addresses, never the bytes), links, and bad input at the edge."""
import json
import re
import time

import pytest
import torch
from streamlit.testing.v1 import AppTest

import encdec
from encdec import jobs, maps, work
from encdec.ui.text import EN, ZH
from tests.conftest import ROOT, run_async

PAGES = ["home", "lesson", "editor", "map", "draw", "classifier", "transfer", "models", "train"]


def app(model=None, lang="en", page=None, params=None):
    """A session of the app; a language other than English is chosen as the sidebar's picker leaves it,
    in the link (AppTest has no browser to write the picker's value into the address)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for k, v in {**(params or {}), **({"lang": {"zh": "中文"}[lang]} if lang != "en" else {})}.items():
        at.query_params[k] = v
    at.run()
    if model is not None:
        at.sidebar.selectbox(key="model").set_value(model).run()
    if page is not None:
        at.switch_page(f"pages/{page}.py")
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def element(at, key):
    """The description a view of the page's element was mounted with."""
    proto = next(e.proto for e in at.get("bidi_component") if e.proto.id.endswith(key) or key in e.proto.id)
    return json.loads(proto.json)


def digest_now(path):
    """A user model's digest, made here (the engine's workers would make it when a page asks)."""
    model = encdec.load(path)
    split = encdec.load_dataset(model.config.dataset).test
    jobs.write_digest(jobs.digest_path(maps.file_hash(path), "test"), work.digest(model, split), maps.file_hash(path), "test")


# -- words ------------------------------------------------------------------------------------------------

def test_both_languages_have_the_same_strings_and_chinese_is_translated():
    import string

    assert set(EN) == set(ZH)
    blanks = lambda s: {f for _, f, _, _ in string.Formatter().parse(s) if f}  # noqa: E731
    assert [k for k in EN if blanks(EN[k]) != blanks(ZH[k])] == []  # the same {placeholders} in both
    same = {k for k in EN if EN[k] == ZH[k]}  # names and symbols that read the same in both
    assert same == {"enc_lstm", "dec_lstm", "map_method_umap", "reset", "arith_a", "arith_b", "arith_c", "arith_result"}


def test_every_string_a_page_asks_for_exists():
    used, prefixes = set(), set()
    for path in [*(ROOT / "pages").glob("*.py"), *(ROOT / "encdec" / "ui").glob("*.py")]:
        text = path.read_text()
        used |= set(re.findall(r'\bt\("([a-z0-9_]+)"\s*[,)]', text))
        used |= set(re.findall(r'\btext\(lang, "([a-z0-9_]+)"', text))
        for call in re.findall(r'\btexts\((.*?)\)\n', text, re.S):  # texts("a", b="c"): keys a and c
            used |= set(re.findall(r'"([a-z0-9_]+)"', call))
        prefixes |= set(re.findall(r'\bt\("([a-z0-9_]+)"\s*\+', text))  # t("metric_" + k): a family of keys
        prefixes |= set(re.findall(r'\bt\(f"([a-z0-9_]+)\{', text))
        prefixes |= set(re.findall(r'\boption_labels\("([a-z0-9_]+)"\)', text))
    assert used and used <= set(EN), sorted(used - set(EN))
    assert prefixes and all(any(k.startswith(p) for k in EN) for p in prefixes), prefixes


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_page_renders_in_both_languages(lang):
    table = ZH if lang == "zh" else EN
    at = app(lang=lang)
    for page in PAGES:
        if page != "home":
            at.switch_page(f"pages/{page}.py")
            at.run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert at.title[0].value == table["app_title" if page == "home" else f"page_{page}"] and not at.error, page


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_every_page_works_with_fashion_mnist(page):
    at = app(page=page, params={"data": "Fashion-MNIST"})  # the link the dataset picker writes
    assert not at.error and at.sidebar.selectbox(key="data").value == "fashion"
    assert at.sidebar.selectbox(key="model").value.startswith("fashion-")


# -- the editor: the page does the gestures; Python sends a description and addresses ----------------------

@pytest.mark.parametrize("model", ["mnist-mlp-ae-16", "mnist-cnn-clf"])
def test_the_editor_sends_a_small_description_with_blob_addresses_not_bytes(model):
    at = app(model=model, page="editor")
    k = encdec.read_header(ROOT / "models" / f"{model}.safetensors")[0].code_dim
    data = element(at, "live-editor")
    assert sorted(data["order"]) == list(range(k)) and len(data["code"]) == k and len(data["low"]) == k
    assert data["classifier"] == model.endswith("clf") and "server" not in data
    assert all(url.startswith("/encdec/blob/") for url in data["blobs"].values())
    assert len(json.dumps(data)) < 10_000  # the weights, codes and digits are fetched by the page itself
    assert not [e for e in at.get("bidi_component") if e.proto.bytes]


def test_a_shared_link_restores_start_and_code():
    code = ",".join(["0.5"] * 16)
    at = app(params={"model": "mnist-mlp-ae-16", "start": "test-5", "z": code}, model="mnist-mlp-ae-16", page="editor")
    data = element(at, "live-editor")
    assert data["start"] == {"kind": "test", "index": 5} and data["code"] == [0.5] * 16


def test_links_restore_interpolation_and_arithmetic():
    at = app(params={"ia": "7", "ib": "8", "is": "12", "ip": "slerp", "aa": "1", "ab": "2", "ac": "3"},
             model="mnist-mlp-ae-16", page="editor")
    interp, arith = element(at, "interpolation"), element(at, "arithmetic")
    assert interp["picks"] == [7, 8] and interp["steps"] == 12 and interp["method"] == "slerp"
    assert arith["picks"] == [1, 2, 3]


def test_a_bad_link_gets_one_sentence_and_the_editor_still_works():
    at = app(params={"start": "test-99999", "z": "1,2", "ia": "-4"}, model="mnist-mlp-ae-16", page="editor")
    warnings = " ".join(w.value for w in at.warning)
    assert "test split has 10000 digits (0 to 9999)" in warnings and len(at.warning) == 2
    assert len(element(at, "live-editor")["order"]) == 16 and element(at, "interpolation")["picks"][0] == 0


def test_a_model_the_page_cannot_run_is_drawn_by_python(user_home, monkeypatch):
    """A layer the page does not know: one sentence, and the same editor with pictures from the server."""
    import encdec.webmodel as webmodel

    def refuse(dec):
        raise webmodel.Unsupported("an unknown layer")
    monkeypatch.setattr(webmodel, "_decoder", refuse)
    path = user_home / "models" / "odd.safetensors"
    encdec.save(encdec.build(encdec.ModelConfig(code_dim=4)), path)
    digest_now(path)
    at = app(model="odd", page="editor")
    assert EN["editor_server_side"] in [c.value for c in at.caption]
    data = element(at, "live-editor")
    first = data["server"]["image"]
    assert first.startswith("data:image/png;base64,") and len(data["server"]["traversal"]) == 4
    at.session_state["live-editor"] = {"edit": {"version": data["version"], "seq": 1, "code": [3.0, -3.0, 3.0, -3.0]}}
    at.run()
    assert element(at, "live-editor")["server"]["image"] != first


@pytest.mark.parametrize("sent", [{"seq": 1, "code": [0.0] * 3}, {"seq": 2, "code": ["x"] * 16},
                                  {"seq": 3, "code": [1e300] * 16}, {"seq": 4, "code": [10 ** 400] * 16}, "nonsense"])
def test_what_a_page_sends_is_checked_like_any_user_input(sent):
    """A drawing's code sent to the editor: anything but 16 finite numbers within bounds changes nothing."""
    at = app(model="mnist-mlp-ae-16", page="draw")
    at.session_state["draw"] = {"edit": sent}
    at.run()
    assert not at.exception and at.title[0].value == EN["page_draw"]


def test_a_drawing_sent_to_the_editor_opens_there_with_its_code():
    at = app(model="mnist-mlp-ae-16", page="draw")
    at.session_state["draw"] = {"edit": {"seq": 1, "code": [0.25] * 16}}
    at.run()
    assert at.title[0].value == EN["page_editor"]
    data = element(at, "live-editor")
    assert data["start"]["kind"] == "code" and data["code"] == [0.25] * 16 and data["custom"] == [0.25] * 16


def test_a_map_point_sent_to_the_editor_opens_its_test_digit():
    at = app(model="mnist-mlp-ae-16", page="map")
    assert element(at, "explore")["blobs"]["codes"].startswith("/encdec/blob/")
    at.session_state["explore"] = {"edit": {"seq": 1, "code": [0.0] * 16, "index": 42}}
    at.run()
    assert at.title[0].value == EN["page_editor"] and element(at, "live-editor")["start"] == {"kind": "test", "index": 42}


# -- the lesson -----------------------------------------------------------------------------------------------

def test_the_lesson_opens_at_the_step_of_its_link_with_everything_its_steps_need():
    at = app(params={"step": "8", "aa": "1", "ab": "2", "ac": "3"}, page="lesson")
    data = element(at, "lesson")
    assert data["step"] == 7 and data["states"]["7"] == {"aa": "1", "ab": "2", "ac": "3"}
    assert len(data["text"]["steps"]) == 8 and all(s["task"] and s["done"] and len(s["body"]) == 2 for s in data["text"]["steps"])
    assert all(data["blobs"][k].startswith("/encdec/blob/") for k in ("enc", "ae", "clf", "plane", "atlas", "ae_codes", "ae_map"))
    assert data["lesson"]["numbers"]["target"] == 9 and len(data["lesson"]["arith"]["picks"]) == 3
    assert data["teacher"] is None and data["follow"] is False  # local mode: nobody leads


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "models").glob("*.safetensors")))
def test_the_lesson_runs_with_every_shipped_model_as_the_current_one(name):
    """Whatever model is chosen (an autoencoder, a VAE, a classifier; MNIST or Fashion-MNIST), the lesson
    finds every role among the shipped models of its dataset and has every step's data."""
    params = {"data": "Fashion-MNIST"} if name.startswith("fashion-") else None  # the picker's link
    at = app(model=name, page="lesson", params=params)
    data = element(at, "lesson")
    assert not at.warning and not at.error
    assert all(data["blobs"][k] for k in ("enc", "ae", "clf", "plane", "atlas", "ae_codes", "ae_map", "plane_map",
                                          "frames_ae", "frames_clf"))
    numbers = data["lesson"]["numbers"]
    assert data["lesson"]["probe"] and len(numbers["order"]) == min(6, len(numbers["start"]))
    assert len(data["classes"]) == 10


def test_present_mode_hides_the_sidebar_and_a_bad_step_is_explained():
    at = app(params={"step": "99", "present": "1"}, page="lesson")
    assert element(at, "lesson")["present"] is True and element(at, "lesson")["step"] == 0
    assert len(at.warning) == 1


# -- the other pages ------------------------------------------------------------------------------------------

def test_out_of_range_settings_in_the_url_are_explained():
    at = app(params={"code": "500", "epochs": "0"}, page="train")
    warnings = " ".join(w.value for w in at.warning)
    assert "code size in the link, 500, is outside the allowed range 2 to 64" in warnings
    assert "epoch count in the link, 0" in warnings
    assert at.slider(key="code").value == 16


@pytest.mark.slow
def test_training_from_the_page_saves_a_model_and_makes_it_current(user_home):
    at = app(page="train")
    at.select_slider(key="train_size").set_value(1000).run()
    at.number_input(key="epochs").set_value(1).run()
    at.slider(key="code").set_value(4).run()
    at.button(key="start_training").click().run()
    job = at.session_state["_encdec_jobs"]["train"]
    end = time.time() + 300
    while not job.finished and time.time() < end:
        time.sleep(0.2)
    assert job.status == "done", job.error
    at.run()
    assert at.success[0].value == EN["train_done"].format(name=job.result)
    assert at.sidebar.selectbox(key="model").value == job.result
    assert encdec.load(user_home / "models" / f"{job.result}.safetensors").config.code_dim == 4
    at.switch_page("pages/map.py")
    at.run()  # its map and digest were made at the end of the training: shown at once, from the cache
    assert not at.exception and not at.info
    assert EN["map_source_cache"] in " ".join(c.value for c in at.caption)


def test_models_page_shows_a_user_model_card_and_its_delete_button(user_home):
    model = encdec.build(encdec.ModelConfig(code_dim=5))
    encdec.save(model, user_home / "models" / "mine.safetensors", metrics={"mse": 0.5})
    at = app(model="mine", page="models")
    assert at.subheader[0].value == "mine"
    assert at.button(key="delete").label == EN["delete"]


def test_a_card_that_cannot_be_drawn_still_offers_delete(user_home, monkeypatch):
    from encdec.ui import cache

    model = encdec.build(encdec.ModelConfig(code_dim=5))
    encdec.save(model, user_home / "models" / "broken.safetensors")
    monkeypatch.setattr(cache, "frames_url", lambda info: (_ for _ in ()).throw(RuntimeError("a broken record")))
    at = app(model="broken", page="models")
    assert EN["card_broken"].format(name="broken") in [e.value for e in at.error]
    assert at.button(key="delete").label == EN["delete"]  # the confirmation it opens is driven in the browser tests


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_a_missing_or_corrupt_dataset_gets_one_sentence(tmp_path, monkeypatch, damage):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    if damage == "corrupt":
        for name in encdec.data.IDX_FILES:
            (raw / name).write_bytes(b"\x00\x00\x08\x03 not an idx file")
    monkeypatch.setenv("ENCDEC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ENCDEC_DOWNLOAD", "0")
    at = app()
    for page in PAGES:
        at.switch_page(f"pages/{page}.py")
        at.run()
        assert len(at.error) == 1 and str(raw) in at.error[0].value, page
        assert ("replace it with the original" if damage == "corrupt" else "files are missing") in at.error[0].value


def _raw_checkpoint(path, meta):
    """A checkpoint whose metadata is written as given, bypassing save's own checks."""
    import struct

    encdec.save(encdec.build(encdec.ModelConfig(code_dim=3)), path)
    data = path.read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    header["__metadata__"]["meta"] = json.dumps(meta)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + n:])


def test_one_bad_model_card_never_breaks_a_page_for_anyone(user_home):
    _raw_checkpoint(user_home / "models" / "bad.safetensors", {"metrics": {"accuracy": "high"}})
    _raw_checkpoint(user_home / "models" / "worse.safetensors", {"metrics": "high"})
    encdec.save(encdec.build(encdec.ModelConfig(code_dim=5)), user_home / "models" / "good.safetensors", metrics={"mse": 0.1})
    at = app()
    for page in ("models", "home", "train"):
        at.switch_page(f"pages/{page}.py")
        at.run()
        assert not at.error and not at.exception, page
        assert EN["unreadable_models"].format(n=2) in [c.value for c in at.sidebar.caption]
        assert "good" in at.sidebar.selectbox(key="model").options


@pytest.mark.parametrize("name,problem", [("!!!", "name_characters"), ("", "name_empty"), ("...", "name_dots")])
def test_the_train_page_explains_a_bad_name_in_the_page_language(name, problem):
    at = app(page="train", lang="zh")
    at.text_input(key="train_name").set_value(name).run()
    assert not at.exception
    assert [w.value for w in at.warning] == [ZH[problem]]
    assert at.button(key="start_training").disabled


def test_a_name_in_chinese_is_accepted():
    at = app(page="train", lang="zh")
    at.text_input(key="train_name").set_value("我的模型").run()
    assert not at.warning and not at.button(key="start_training").disabled


@pytest.mark.parametrize("name,value", [("ENCDEC_WORKERS", "two"), ("ENCDEC_HOME", "FILE"),
                                        ("ENCDEC_RAY_ADDRESS", "not an address")])
def test_a_bad_setting_gets_one_sentence_and_the_app_keeps_running(tmp_path, monkeypatch, name, value):
    (tmp_path / "FILE").write_text("a file")
    monkeypatch.setenv(name, str(tmp_path / "FILE") if value == "FILE" else value)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception and len(at.error) == 1 and name in at.error[0].value


def test_a_model_whose_codes_overflow_gets_a_sentence_on_the_map_and_editor_pages(user_home):
    model = encdec.build(encdec.ModelConfig(code_dim=3))
    with torch.no_grad():
        model.encoder.net[-1].weight.fill_(3e38)  # finite weights, codes beyond float32
    path = user_home / "models" / "huge.safetensors"
    encdec.save(model, path)
    digest_now(path)
    for page in ("map", "editor"):
        at = app(model="huge", page=page)
        assert not at.exception and not at.error
        assert [w.value for w in at.warning] == [EN["codes_not_finite"].format(name="huge")], page


def test_streamlit_run_serves_the_app_with_its_start_up_hook_and_routes():
    from streamlit.web.server.app_discovery import discover_asgi_app

    found = discover_asgi_app(ROOT / "app.py")  # what `streamlit run app.py` looks for
    assert found.is_asgi_app and found.app_name == "app"
    from encdec.ui.server import routes

    assert {r.path for r in routes()} == {"/encdec/blob/{key}", "/encdec/job/{token}", "/encdec/job/{token}/stop",
                                         "/encdec/follow"}


@pytest.mark.slow
def test_the_start_up_hook_imports_what_the_pages_import_and_never_umap():
    import subprocess
    import sys

    code = ("import sys; from encdec.ui.server import page_imports, warm_up; warm_up(); "
            "print(sorted(n for n in ('torch', 'encdec.ui.cache', 'encdec.ui.live', 'plotly.graph_objects', 'pandas', 'umap') "
            "if n in sys.modules)); print(len(page_imports()))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    found, count = out.stdout.split("\n")[:2]
    assert found == "['encdec.ui.cache', 'encdec.ui.live', 'pandas', 'plotly.graph_objects', 'torch']" and int(count) > 10


def test_a_failing_warm_up_does_not_stop_the_server(monkeypatch):
    from streamlit.runtime.pages_manager import PagesManager

    from encdec.ui import server

    def broken():
        raise SyntaxError("a page that does not parse")

    monkeypatch.setattr(server, "warm_up", broken)
    monkeypatch.setattr(server, "start_engine", lambda: None)
    monkeypatch.setattr(PagesManager, "uses_pages_directory", None)

    async def start():
        async with server.lifespan(None):
            return PagesManager.uses_pages_directory

    assert run_async(start()) is False  # started, with the automatic pages/ mode off


def test_the_servers_upload_limit_is_the_apps_own(monkeypatch):
    """Streamlit reads an upload into memory before the page sees it: its limit is the largest
    checkpoint the app loads, and on a classroom server the classroom's upload quota."""
    import tomllib

    from streamlit import config

    from encdec.checkpoint import MAX_BYTES
    from encdec.ui import server

    configured = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]["maxUploadSize"]
    assert configured * 1024 * 1024 == MAX_BYTES
    before = config.get_option("server.maxUploadSize")
    monkeypatch.setenv("ENCDEC_SHARED", "1")
    monkeypatch.setenv("ENCDEC_QUOTA_UPLOAD_MB", "7")
    try:
        server.upload_limit()
        assert config.get_option("server.maxUploadSize") == 7
    finally:
        config.set_option("server.maxUploadSize", before)
