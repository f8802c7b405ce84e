"""Workspaces on a classroom server: keys, folders, quotas, the class, the teacher."""
import pytest
from streamlit.testing.v1 import AppTest

import encdec
from encdec import workspace
from encdec.checkpoint import CheckpointError
from encdec.store import ModelStore
from tests.conftest import ROOT


@pytest.fixture
def model():
    return encdec.build(encdec.ModelConfig(code_dim=3))


def test_browser_keys_are_unguessable():
    keys = {workspace.new_key() for _ in range(2000)}
    assert len(keys) == 2000
    assert all(workspace.valid_key(k) and len(k) >= 32 for k in keys)
    assert workspace.KEY_BYTES * 8 >= 128
    joined = "".join(keys)
    assert len(set(joined)) >= 60  # the whole URL-safe alphabet is used, nothing fixed


@pytest.mark.parametrize("key", ["", "short", "../../../../etc/passwd", "a" * 31, "x" * 65, "has space in it" * 3,
                                 "ééééééééééééééééééééééééééééééééé", None, 12345])
def test_a_key_that_is_not_one_this_app_makes_names_no_folder(tmp_path, key):
    with pytest.raises(CheckpointError):
        workspace.for_key(tmp_path, key)


def test_a_workspace_folder_is_a_hash_inside_the_home(tmp_path):
    key = workspace.new_key()
    ws = workspace.for_key(tmp_path, key)
    assert ws.root.parent == tmp_path / "workspaces" and key not in str(ws.root)
    assert workspace.for_key(tmp_path, key) == ws and workspace.for_key(tmp_path, workspace.new_key()) != ws
    assert workspace.for_user(tmp_path, "Ann@School.org") == workspace.for_user(tmp_path, "ann@school.org ")
    assert "ann" not in str(workspace.for_user(tmp_path, "ann@school.org").root)


@pytest.mark.parametrize("name", ["../../class/models/lesson", "/etc/passwd", "..", "../other-workspace/models/x",
                                  "%2e%2e%2fx", "x/../../y", "C:\\windows\\x"])
def test_hostile_names_never_reach_outside_the_workspace(tmp_path, model, name):
    ws = workspace.for_key(tmp_path, workspace.new_key())
    store = ws.store()
    outside = workspace.class_store(tmp_path)
    outside.save(model, "lesson")
    try:
        saved = store.save(model, name)
    except CheckpointError:
        saved = None
    if saved is not None:
        assert store.path_for(saved).parent == ws.root / "models"
        store.delete(saved)
    with pytest.raises(CheckpointError):
        store.delete(name)
    assert [i.name for i in outside.list()] == ["lesson"]


def test_quotas_count_models_and_megabytes(tmp_path, model):
    ws = workspace.for_key(tmp_path, workspace.new_key())
    quotas = {"models": 2, "megabytes": 10, "trainings": 1, "upload_mb": 1}
    assert ws.room_for(10, quotas) is None
    ws.store().save(model, "a")
    size = ws.usage()[1]
    assert ws.usage() == (1, size) and ws.room_for(10, quotas) is None
    assert ws.room_for(10 * 1024 * 1024 - size + 1, quotas) == "megabytes"
    ws.store().save(model, "b")
    assert ws.room_for(10, quotas) == "models"


def test_a_teacher_publishes_a_copy_to_the_class_under_a_free_name(tmp_path, model):
    ws = workspace.for_key(tmp_path, workspace.new_key())
    ws.store().save(model, "lesson")
    klass = workspace.class_store(tmp_path)
    assert workspace.publish(ws.store(), "lesson", klass) == "lesson"
    assert workspace.publish(ws.store(), "lesson", klass) == "lesson-2"
    assert {i.ref for i in klass.list()} == {"class:lesson", "class:lesson-2"}
    with pytest.raises(CheckpointError):
        workspace.publish(ws.store(), "nothing", klass)


def test_the_teacher_role_lasts_until_the_password_changes(tmp_path):
    ws = workspace.for_key(tmp_path, workspace.new_key())
    assert not ws.is_teacher("secret")
    assert not workspace.password_matches("secret", None) and not workspace.password_matches("", "")
    assert workspace.password_matches("secret", "secret")
    ws.make_teacher("secret")
    assert ws.is_teacher("secret") and not ws.is_teacher("new-password") and not ws.is_teacher(None)


def _app(params=None, env=None, monkeypatch=None):
    for k, v in (env or {}).items():
        monkeypatch.setenv(k, v)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for k, v in (params or {}).items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_personal_link_gives_its_key_to_the_session_and_leaves_the_address(monkeypatch, user_home, model):
    key = workspace.new_key()
    workspace.for_key(user_home, key).store().save(model, "mine")
    at = _app({"workspace": key, "model": "mine"}, {"ENCDEC_SHARED": "1"}, monkeypatch)
    assert "workspace" not in at.query_params and at.session_state["workspace_key"] == key
    assert key not in str(dict(at.query_params))
    assert "mine" in at.sidebar.selectbox(key="model").options
    for link in at.get("page_link"):
        assert key not in link.proto.page and key not in getattr(link.proto, "query_string", "")


def test_shared_visitors_without_a_key_yet_see_only_shipped_models(monkeypatch, user_home, model):
    workspace.for_key(user_home, workspace.new_key()).store().save(model, "someone-elses")
    ModelStore(user_home / "models").save(model, "local-one")  # a local-mode model is nobody's in shared mode
    at = _app(env={"ENCDEC_SHARED": "1"}, monkeypatch=monkeypatch)
    options = at.sidebar.selectbox(key="model").options
    assert "someone-elses" not in options and "local-one" not in options
    shipped = {p.stem for p in (ROOT / "models").glob("*.safetensors") if encdec.read_header(p)[0].dataset == "mnist"}
    assert set(options) == shipped


def test_local_mode_is_one_person_with_everything_in_the_home(user_home, model):
    ModelStore(user_home / "models").save(model, "local-one")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    assert "local-one" in at.sidebar.selectbox(key="model").options
    assert not (user_home / "workspaces").exists()
