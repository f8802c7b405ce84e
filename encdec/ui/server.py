"""The web server's own parts beside the pages: what it does as it starts, and the small routes the
pages' elements call directly.

As it starts it imports what the pages import (about 3 s of torch and plotly on two cores, so that
the first visitor does not wait for them; never UMAP, which only workers fit) and starts the engine's
workers, which begin with the digests of the shipped models that are not cached yet.

Routes (plain HTTP beside Streamlit's websocket, each answered in microseconds, never a script run):
- GET /encdec/blob/KEY: bytes a page fetches once and its browser keeps (blobs.py);
- GET /encdec/job/TOKEN, POST /encdec/job/TOKEN/stop: how a job goes, and Stop (the token is the
  unguessable capability the page that started the job holds);
- GET /encdec/follow, POST /encdec/follow: where the teacher is in the lesson (follow.py), for the
  students' pages, which ask again as soon as they are answered (an answer waits for the teacher's next
  move); only a page holding the class's lesson key moves it.
"""
from __future__ import annotations

import ast
import asyncio
import gc
import importlib
import json
import logging
import sys
from contextlib import asynccontextmanager
from pathlib import Path

PAGES = Path(__file__).resolve().parents[2] / "pages"
# Streamlit imports these itself the first time a page shows a chart, a table or a component's data.
STREAMLIT_LAZY = ("pandas", "pyarrow", "plotly.io", "streamlit.material_icon_names")


def page_imports(folder: Path = PAGES) -> list[str]:
    """What the page scripts import at their top level: `import X` gives X; `from X import y` gives X and X.y."""
    names: list[str] = []
    for path in sorted(folder.glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Import):
                names += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    return list(dict.fromkeys(names))


def warm_up(folder: Path = PAGES) -> None:
    """Imports every module the pages import (`from encdec.ui import cache` imports encdec.ui.cache)
    and those Streamlit imports when it first draws them."""
    for name in [*page_imports(folder), *STREAMLIT_LAZY]:
        parent, _, attr = name.rpartition(".")
        if parent and hasattr(sys.modules.get(parent), attr):
            continue  # a function or a module already imported
        importlib.import_module(name)


async def blob(request):
    from starlette.responses import Response

    from . import blobs

    found = blobs.get(request.path_params["key"])
    if found is None:
        return Response(status_code=404)
    data, encoding = found
    # An encoding named ("identity" for bytes sent as they are) keeps Streamlit's gzip layer off them.
    headers = {"Cache-Control": "public, max-age=31536000, immutable", "Content-Encoding": encoding}
    return Response(data, media_type="application/octet-stream", headers=headers)


def _job(request):
    from .. import engine

    return engine.shared().get(request.path_params["token"]) if engine.started() else None


async def job_view(request):
    from starlette.responses import JSONResponse

    job = _job(request)
    if job is None:
        return JSONResponse({"status": "gone"}, status_code=404)
    from .. import engine

    return JSONResponse(job.view(engine.shared().place(job)), headers={"Cache-Control": "no-store"})


async def job_stop(request):
    from starlette.responses import JSONResponse

    job = _job(request)
    if job is None:
        return JSONResponse({"status": "gone"}, status_code=404)
    from .. import engine

    engine.shared().stop(job)
    return JSONResponse({"status": job.status})


_lessons: dict = {}


def lesson():
    """The class's lesson position in this ENCDEC_HOME (follow.Lesson), one reader per process."""
    from .. import settings
    from ..follow import Lesson

    home = settings.home()
    if home not in _lessons:
        _lessons[home] = Lesson(home)
    return _lessons[home]


FOLLOW_WAIT = 10.0   # seconds a follower's request waits for the teacher to move before it is answered anyway
FOLLOW_LOOK = 0.25   # seconds between two looks at the lesson's file while anyone waits (one look for all)


class _Moves:
    """Wakes the followers of this process when the lesson's file changes: one look at the file every
    FOLLOW_LOOK seconds while anyone waits, whichever replica the teacher moved it on."""

    def __init__(self):
        self.changed = asyncio.Condition()
        self.waiting = 0
        self.task: asyncio.Task | None = None

    async def _watch(self) -> None:
        seq = lesson().read()["seq"]
        while self.waiting:
            await asyncio.sleep(FOLLOW_LOOK)
            now = lesson().read()["seq"]
            if now != seq:
                seq = now
                async with self.changed:
                    self.changed.notify_all()
        self.task = None

    async def until_after(self, seq: int, request) -> dict:
        """The lesson's position once its count has passed `seq`, or as it is after FOLLOW_WAIT seconds
        (or at once when the page has gone)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + FOLLOW_WAIT
        self.waiting += 1
        try:
            if self.task is None:
                self.task = loop.create_task(self._watch())
            while loop.time() < end and not await request.is_disconnected():
                try:
                    async with self.changed:
                        await asyncio.wait_for(self.changed.wait_for(lambda: lesson().read()["seq"] != seq), 1.0)
                    break
                except asyncio.TimeoutError:
                    continue
        finally:
            self.waiting -= 1
        return lesson().read()


_moves: _Moves | None = None


async def follow_read(request):
    """Where the teacher is. With `?after=SEQ` (what the page has), the answer waits until the teacher
    has moved past it (or FOLLOW_WAIT seconds): a follower costs the server one answer per move."""
    from starlette.responses import JSONResponse

    global _moves
    position = lesson().read()
    after = request.query_params.get("after", "")
    if after.lstrip("-").isdigit() and len(after) < 20 and int(after) == position["seq"]:
        _moves = _moves or _Moves()
        position = await _moves.until_after(int(after), request)
    return JSONResponse(position, headers={"Cache-Control": "no-store"})


async def follow_move(request):
    from starlette.responses import JSONResponse

    from .. import settings
    from ..follow import MAX_BYTES, lesson_key

    body = await request.body()
    if len(body) > MAX_BYTES:
        return JSONResponse({"moved": False}, status_code=413)
    try:
        sent = json.loads(body)
    except ValueError:
        return JSONResponse({"moved": False}, status_code=400)
    if not isinstance(sent, dict):
        return JSONResponse({"moved": False}, status_code=400)
    moved = lesson().move(str(sent.pop("key", "")), lesson_key(settings.home()), sent)
    return JSONResponse({"moved": moved is not None, **(moved or {})}, status_code=200 if moved else 403)


def routes() -> list:
    from starlette.routing import Route

    return [Route("/encdec/blob/{key}", blob), Route("/encdec/job/{token}", job_view),
            Route("/encdec/job/{token}/stop", job_stop, methods=["POST"]),
            Route("/encdec/follow", follow_read), Route("/encdec/follow", follow_move, methods=["POST"])]


def upload_limit() -> None:
    """On a classroom server, Streamlit's own upload limit becomes the classroom's (it is checked as the
    bytes arrive, before any of them are kept)."""
    from streamlit import config

    from .. import settings
    from .visitor import shared_mode

    if shared_mode():
        config.set_option("server.maxUploadSize", settings.quotas()["upload_mb"])


def start_engine() -> None:
    """The engine and its workers, and the digests of shipped models that are not there yet. A cluster
    that does not answer is logged here and said on every page (common.frame)."""
    from .. import engine, jobs
    from ..store import ModelStore, shipped_store_dir

    try:
        jobs.warm(engine.shared(), ModelStore(shipped_store_dir(), shipped=True).list())
    except Exception:  # noqa: BLE001 - the pages say it in one sentence
        logging.getLogger(__name__).exception("the engine did not start")


def no_pages_folder_mode() -> None:
    """Streamlit treats a pages/ folder beside the script as its older automatic multipage mode until
    st.navigation has run once; a first visit to a deep link (/map) would then run the page file alone,
    under a sidebar of file names. The app always navigates with st.navigation."""
    from streamlit.runtime.pages_manager import PagesManager

    PagesManager.uses_pages_directory = False


@asynccontextmanager
async def lifespan(app):
    """st.App's start-up hook: no automatic pages/ mode, the pages' imports, the engine."""
    no_pages_folder_mode()
    try:
        upload_limit()
    except Exception:  # noqa: BLE001 - a bad setting is said on every page
        logging.getLogger(__name__).exception("the upload limit could not be set")
    try:
        warm_up()
    except Exception:  # noqa: BLE001 - a page that cannot be imported says so when it is opened
        logging.getLogger(__name__).exception("warming up failed; pages will import what they need when opened")
    start_engine()
    gc.freeze()  # what start-up made lives as long as the server: the collector need not look at it again
    yield
    from .. import engine

    engine.close_shared()
