"""The app through streamlit.testing.v1.AppTest: every page, both languages, and the widgets AppTest can drive."""
import time

import pytest
import torch
from streamlit.testing.v1 import AppTest

import encdec
from encdec.ui.text import EN, ZH
from tests.conftest import ROOT

PAGES = ["home", "editor", "map", "draw", "classifier", "transfer", "models", "train"]


def app(model=None, lang="en", page=None, params=None):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for k, v in (params or {}).items():
        at.query_params[k] = v
    at.run()
    if model is not None:
        at.sidebar.selectbox(key="model").set_value(model).run()
    if page is not None:
        at.switch_page(f"pages/{page}.py")
        at.run()
    if lang != "en":  # chosen on the page itself
        at.sidebar.selectbox(key="lang").set_value({"zh": "中文"}[lang]).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def image(at, caption):
    return next(i for i in at.get("image") if i.proto.imgs[0].caption == caption).proto.imgs[0].url


def test_both_languages_have_the_same_strings_and_chinese_is_translated():
    import string

    assert set(EN) == set(ZH)
    blanks = lambda s: {f for _, f, _, _ in string.Formatter().parse(s) if f}  # noqa: E731
    assert [k for k in EN if blanks(EN[k]) != blanks(ZH[k])] == []  # the same {placeholders} in both
    same = {k for k in EN if EN[k] == ZH[k]}  # names and symbols that read the same in both
    assert same == {"enc_lstm", "dec_lstm", "map_method_umap", "reset", "arith_a", "arith_b", "arith_c", "arith_result"}


def test_every_string_a_page_asks_for_exists():
    import re

    used, prefixes = set(), set()
    for path in [*(ROOT / "pages").glob("*.py"), *(ROOT / "encdec" / "ui").glob("*.py")]:
        text = path.read_text()
        used |= set(re.findall(r'\bt\("([a-z0-9_]+)"\s*[,)]', text))
        prefixes |= set(re.findall(r'\bt\("([a-z0-9_]+)"\s*\+', text))  # t("metric_" + k): a family of keys
        prefixes |= set(re.findall(r'\boption_labels\("([a-z0-9_]+)"\)', text))
    assert used and used <= set(EN), sorted(used - set(EN))
    assert prefixes and all(any(k.startswith(p) for k in EN) for p in prefixes), prefixes


@pytest.mark.parametrize("page", PAGES)
def test_every_page_works_with_fashion_mnist(page):
    at = app(page=page, params={"data": "Fashion-MNIST"})  # the link the dataset picker writes
    assert not at.error and at.sidebar.selectbox(key="data").value == "fashion"
    assert at.sidebar.selectbox(key="model").value.startswith("fashion-")


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_in_both_languages(page, lang):
    at = app(lang=lang, page=page)
    table = ZH if lang == "zh" else EN
    assert at.title[0].value == table["app_title" if page == "home" else f"page_{page}"]
    assert not at.error


def element(at, key):
    """The data a Components v2 element was mounted with (JSON), or its byte length (weights)."""
    import json

    proto = next(e.proto for e in at.get("bidi_component") if e.proto.id.endswith(key) or key in e.proto.id)
    return json.loads(proto.json) if proto.json else len(proto.bytes)


def release(at, code, version=None, seq=1):
    """What the page sends when the mouse is released on a slider."""
    ed = at.session_state["editor"]
    at.session_state["live-editor"] = {"edit": {"version": ed.version if version is None else version, "seq": seq,
                                                "code": code}}
    at.run()
    assert not at.exception


@pytest.mark.parametrize("model", ["mnist-mlp-ae-16", "mnist-cnn-vae-16", "mnist-lstm-ae-16", "mnist-cnn-clf"])
def test_the_editor_sends_the_weights_and_a_ranked_view_for_each_kind(model):
    at = app(model=model, page="editor")
    k = encdec.read_header(ROOT / "models" / f"{model}.safetensors")[0].code_dim
    data = element(at, "live-editor")
    assert sorted(data["order"]) == list(range(k)) and len(data["start"]) == k
    assert data["classifier"] == model.endswith("clf") and "server" not in data
    assert element(at, "weights-") > 100_000  # the model's weights, once
    if model.endswith("clf"):
        assert at.info[0].value == EN["editor_classifier_note"]


def test_a_release_in_the_page_updates_the_link_and_the_code_chart():
    at = app(model="mnist-mlp-ae-16", page="editor")
    z_before = at.query_params["z"]
    release(at, [1.5] * 16)
    assert at.query_params["z"] == ",".join(["1.5"] * 16) != z_before
    bars = at.get("plotly_chart")[0].proto.spec
    assert '"y":[1.5,1.5' in bars.replace(" ", "")


@pytest.mark.parametrize("sent", [
    {"version": 999, "seq": 5, "code": [0.0] * 16},           # an edit of a start that is gone
    {"version": None, "seq": 1, "code": [0.0] * 3},           # the wrong number of values
    {"version": None, "seq": 1, "code": ["x"] * 16},          # not numbers
    {"version": None, "seq": 1, "code": [1e300] * 16},        # beyond any code
    "nonsense",
])
def test_what_the_page_sends_is_checked_like_any_user_input(sent):
    at = app(model="mnist-mlp-ae-16", page="editor")
    z_before, version = at.query_params["z"], at.session_state["editor"].version
    if isinstance(sent, dict) and sent["version"] is None:
        sent = {**sent, "version": version}
    at.session_state["live-editor"] = {"edit": sent}
    at.run()
    assert not at.exception and at.query_params["z"] == z_before


def test_a_shared_link_restores_start_and_code():
    code = ",".join(["0.5"] * 16)
    at = app(params={"model": "mnist-mlp-ae-16", "start": "test-5", "z": code}, model="mnist-mlp-ae-16", page="editor")
    assert at.number_input(key="start_index").value == 5
    assert element(at, "live-editor")["code"] == [0.5] * 16 and at.query_params["z"] == code


def test_a_bad_link_gets_one_sentence_and_the_editor_still_works():
    at = app(params={"start": "test-99999", "z": "1,2"}, model="mnist-mlp-ae-16", page="editor")
    assert "test split has 10000 digits (0 to 9999)" in at.warning[0].value
    assert len(element(at, "live-editor")["order"]) == 16


def test_start_from_mean_and_zeros_changes_the_code():
    at = app(model="mnist-mlp-ae-16", page="editor")
    at.radio(key="start_kind").set_value("zeros").run()
    assert element(at, "live-editor")["start"] == [0.0] * 16
    at.radio(key="start_kind").set_value("mean").run()
    data = element(at, "live-editor")
    assert any(v != 0 for v in data["start"]) and data["code"] == data["start"]
    assert at.query_params["start"] == "mean"


def test_a_model_the_page_cannot_run_is_drawn_by_python(user_home, monkeypatch):
    """A layer the page does not know: one sentence, and the same editor with pictures from the server."""
    import encdec.webmodel as webmodel

    def refuse(dec):
        raise webmodel.Unsupported("an unknown layer")
    monkeypatch.setattr(webmodel, "_decoder", refuse)
    encdec.save(encdec.build(encdec.ModelConfig(code_dim=4)), user_home / "models" / "odd.safetensors")
    at = app(model="odd", page="editor")
    assert EN["editor_server_side"] in [c.value for c in at.caption]
    data = element(at, "live-editor")
    first = data["server"]["image"]
    assert first.startswith("data:image/png;base64,") and len(data["server"]["traversal"]) == 4
    release(at, [3.0, -3.0, 3.0, -3.0])
    assert element(at, "live-editor")["server"]["image"] != first
    assert not [e for e in at.get("bidi_component") if "weights-" in e.proto.id]


def test_out_of_range_settings_in_the_url_are_explained():
    at = app(params={"code": "500", "epochs": "0"}, page="train")
    warnings = " ".join(w.value for w in at.warning)
    assert "code size in the link, 500, is outside the allowed range 2 to 64" in warnings
    assert "epoch count in the link, 0" in warnings
    assert at.slider(key="code").value == 16


def test_training_from_the_page_saves_a_model_and_makes_it_current(user_home):
    at = app(page="train")
    at.select_slider[1].set_value(1000).run()
    at.number_input(key="epochs").set_value(1).run()
    at.slider(key="code").set_value(4).run()
    at.button[0].click().run()
    job = at.session_state["job"]
    end = time.time() + 120
    while not job.finished and time.time() < end:
        time.sleep(0.2)
    assert job.status == "done", job.error
    at.run()
    assert at.success[0].value == EN["train_done"].format(name=job.result)
    assert at.sidebar.selectbox(key="model").value == job.result
    assert encdec.load(user_home / "models" / f"{job.result}.safetensors").config.code_dim == 4
    at.switch_page("pages/map.py")
    at.run()  # its map was made at the end of the training: shown at once, from the cache
    pending = EN["map_pending"].split("{")[0]
    assert not at.exception and not any(i.value.startswith(pending) for i in at.info)
    assert EN["map_source_cache"] in " ".join(c.value for c in at.caption)


def test_models_page_shows_a_user_model_card(user_home):
    model = encdec.build(encdec.ModelConfig(code_dim=5))
    encdec.save(model, user_home / "models" / "mine.safetensors", metrics={"mse": 0.5})
    at = app(model="mine", page="models")
    assert at.subheader[0].value == "mine"
    assert any(b.label == EN["delete"] for b in at.button)


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_a_missing_or_corrupt_dataset_gets_one_sentence_on_every_page(tmp_path, monkeypatch, damage):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    if damage == "corrupt":
        for name in encdec.data.IDX_FILES:
            (raw / name).write_bytes(b"\x00\x00\x08\x03 not an idx file")
    monkeypatch.setenv("ENCDEC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ENCDEC_DOWNLOAD", "0")
    for page in PAGES:
        at = app(page=page)
        assert len(at.error) == 1 and str(raw) in at.error[0].value
        assert ("replace it with the original" if damage == "corrupt" else "files are missing") in at.error[0].value


def _raw_checkpoint(path, meta):
    """A checkpoint whose metadata is written as given, bypassing save's own checks."""
    import json
    import struct

    encdec.save(encdec.build(encdec.ModelConfig(code_dim=3)), path)
    data = path.read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    header["__metadata__"]["meta"] = json.dumps(meta)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + n:])


@pytest.mark.parametrize("page", ["models", "home", "train"])
def test_one_bad_model_card_never_breaks_a_page_for_anyone(user_home, page):
    _raw_checkpoint(user_home / "models" / "bad.safetensors", {"metrics": {"accuracy": "high"}})
    _raw_checkpoint(user_home / "models" / "worse.safetensors", {"metrics": "high"})
    encdec.save(encdec.build(encdec.ModelConfig(code_dim=5)), user_home / "models" / "good.safetensors", metrics={"mse": 0.1})
    at = app(page=page)
    assert not at.error
    assert EN["unreadable_models"].format(n=2) in [c.value for c in at.sidebar.caption]
    assert "good" in at.sidebar.selectbox(key="model").options


@pytest.mark.parametrize("name,problem", [("!!!", "name_characters"), ("", "name_empty"), ("...", "name_dots")])
def test_the_train_page_explains_a_bad_name_in_the_page_language(name, problem):
    at = app(page="train", lang="zh")
    at.text_input[0].set_value(name).run()
    assert not at.exception
    assert [w.value for w in at.warning] == [ZH[problem]]
    assert at.button(key="start_training").disabled


def test_a_name_in_chinese_is_accepted():
    at = app(page="train", lang="zh")
    at.text_input[0].set_value("我的模型").run()
    assert not at.warning and not at.button(key="start_training").disabled


@pytest.mark.parametrize("name,value", [("ENCDEC_MAX_TRAININGS", "two"), ("ENCDEC_HOME", "FILE")])
def test_a_bad_setting_gets_one_sentence_and_the_app_keeps_running(tmp_path, monkeypatch, name, value):
    (tmp_path / "FILE").write_text("a file")
    monkeypatch.setenv(name, str(tmp_path / "FILE") if value == "FILE" else value)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception and len(at.error) == 1 and name in at.error[0].value


def test_a_model_whose_codes_overflow_gets_a_sentence_on_the_map_and_draw_pages(user_home):
    model = encdec.build(encdec.ModelConfig(code_dim=3))
    with torch.no_grad():
        model.encoder.net[-1].weight.fill_(3e38)  # finite weights, codes beyond float32
    encdec.save(model, user_home / "models" / "huge.safetensors")
    for page in ("map", "editor"):
        at = app(model="huge", page=page)
        assert not at.exception and not at.error
        assert [w.value for w in at.warning] == [EN["codes_not_finite"].format(name="huge")]


def test_streamlit_run_serves_the_app_with_its_start_up_hook():
    from streamlit.web.server.app_discovery import discover_asgi_app

    found = discover_asgi_app(ROOT / "app.py")  # what `streamlit run app.py` looks for
    assert found.is_asgi_app and found.app_name == "app"


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
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from streamlit.runtime.pages_manager import PagesManager

    from encdec.ui import server

    def broken():
        raise SyntaxError("a page that does not parse")

    monkeypatch.setattr(server, "warm_up", broken)
    monkeypatch.setattr(PagesManager, "uses_pages_directory", None)

    async def start():
        async with server.lifespan(None):
            return PagesManager.uses_pages_directory

    with ThreadPoolExecutor(1) as pool:  # a thread of its own: the browser tests' driver may hold this one's loop
        assert pool.submit(asyncio.run, start()).result() is False  # started, with the automatic pages/ mode off
