"""A student that speaks Streamlit's own protocol, for load tests on loopback only.

It opens the app's websocket (`/_stcore/stream`) as a browser does, asks for pages with the
`BackMsg.rerun_script` message a browser sends (page, link, the hashes of the messages it keeps), reads
the `ForwardMsg`s until the run has finished, answers what the page's elements answer by themselves
(the browser's workspace key on a classroom server), and fetches the blobs the page's element fetches
over HTTP, once per browser, as a browser's cache does. Gestures that a real page keeps to itself
(slider releases, drawing, map hover) send nothing, exactly as the page; `bench/classroom.py` counts
what Chromium really sends for each gesture, and a student sends the same.
"""
from __future__ import annotations

import asyncio
import json
import random
import secrets
import time
import urllib.parse
from dataclasses import dataclass, field

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

LOOPBACK = ("127.0.0.1", "localhost", "::1")
WORKSPACE_ELEMENT = "workspace"        # the sidebar element that tells a classroom server the browser's key
BLOB = "/encdec/blob/"


def _check_loopback(url: str) -> None:
    host = urllib.parse.urlsplit(url).hostname
    if host not in LOOPBACK and not (host or "").startswith("127."):
        raise ValueError(f"students only visit servers on this machine (loopback), not {host!r}")


@dataclass
class Visit:
    page: str
    seconds: float             # from asking for the page until its last run finished
    runs: int                  # script runs it took (a classroom server's first visit takes two)
    ok: bool
    error: str = ""


@dataclass
class Student:
    """One browser: a websocket session, the messages it keeps, the blobs it has fetched."""
    url: str
    key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    cached: set = field(default_factory=set)
    fetched: set = field(default_factory=set)
    ws: object = None
    session_id: str = ""
    page_hash: str = ""        # the page the last run showed (a rerun of the same page names it)

    async def connect(self) -> None:
        import websockets

        _check_loopback(self.url)
        ws_url = self.url.replace("http://", "ws://", 1) + "/_stcore/stream"
        self.ws = await websockets.connect(ws_url, subprotocols=["streamlit"], max_size=None,
                                           origin=self.url, open_timeout=60)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()

    async def _send(self, msg: BackMsg) -> None:
        await self.ws.send(msg.SerializeToString())

    def _rerun(self, page: str, query: str, widgets=(), again: bool = False) -> BackMsg:
        """The message a browser sends to open `page` (or, `again`, to run the page it shows once more)."""
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = query
        if again and self.page_hash:
            state.page_script_hash = self.page_hash
        else:
            state.page_name = page
        state.cached_message_hashes.extend(sorted(self.cached))
        for w in widgets:
            state.widget_states.widgets.append(w)
        state.context_info.timezone = "UTC"
        state.context_info.locale = "en-US"
        state.context_info.url = f"{self.url}/{page}" + (f"?{query}" if query else "")
        return msg

    async def _until_finished(self, timeout: float) -> tuple[list[ForwardMsg], bool]:
        """Messages up to the end of the current run: (messages, whether the run ended well)."""
        msgs = []
        end = time.monotonic() + timeout
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), timeout=max(0.1, end - time.monotonic()))
            fm = ForwardMsg()
            fm.ParseFromString(raw)
            if fm.metadata.cacheable and fm.hash:
                self.cached.add(fm.hash)
            kind = fm.WhichOneof("type")
            if kind == "new_session":
                self.session_id = fm.new_session.initialize.session_id
                self.page_hash = fm.new_session.page_script_hash or self.page_hash
            elif kind == "navigation":
                self.page_hash = fm.navigation.page_script_hash or self.page_hash
            msgs.append(fm)
            if kind == "script_finished":
                return msgs, fm.script_finished in (ForwardMsg.FINISHED_SUCCESSFULLY,
                                                    ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY)
            if kind == "page_not_found":
                return msgs, False

    def _answers(self, msgs: list[ForwardMsg]) -> list:
        """What the page's elements send by themselves as they mount: the workspace key, once."""
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        out = []
        for fm in msgs:
            if fm.WhichOneof("type") != "delta" or not fm.delta.HasField("new_element"):
                continue
            element = fm.delta.new_element
            if element.WhichOneof("type") == "bidi_component" and element.bidi_component.id.endswith(WORKSPACE_ELEMENT):
                data = json.loads(element.bidi_component.json or "{}") if element.bidi_component.json else {}
                if data.get("known") is True:
                    continue
                w = WidgetState(id=element.bidi_component.id)
                w.json_value = json.dumps({"browser_key": self.key})
                out.append(w)
        return out

    def _blobs(self, msgs: list[ForwardMsg]) -> list[str]:
        """The blob addresses a page's elements will fetch (those this browser has not fetched yet)."""
        found = []
        for fm in msgs:
            if fm.WhichOneof("type") == "delta" and fm.delta.HasField("new_element"):
                element = fm.delta.new_element
                if element.WhichOneof("type") == "bidi_component" and element.bidi_component.json:
                    text = element.bidi_component.json
                    start = 0
                    while (i := text.find(BLOB, start)) >= 0:
                        j = i + len(BLOB)
                        while j < len(text) and text[j].isalnum():
                            j += 1
                        found.append(text[i:j])
                        start = j
        return [b for b in dict.fromkeys(found) if b not in self.fetched]

    async def _fetch(self, paths: list[str]) -> None:
        loop = asyncio.get_running_loop()

        def get(path):
            import urllib.request

            with urllib.request.urlopen(self.url + path, timeout=60) as r:
                r.read()
        for path in paths:
            await loop.run_in_executor(None, get, path)
            self.fetched.add(path)

    async def visit(self, page: str, query: str = "", timeout: float = 60.0) -> Visit:
        """Open a page as a click in the sidebar (or a link) does, and wait until it is drawn."""
        start = time.perf_counter()
        runs = 0
        try:
            await self._send(self._rerun(page, query))
            msgs, ok = await self._until_finished(timeout)
            runs += 1
            answers = self._answers(msgs)
            if answers:  # the element's answer starts a run of its own
                await self._send(self._rerun(page, query, answers, again=True))
                more, ok = await self._until_finished(timeout)
                msgs += more
                runs += 1
            await self._fetch(self._blobs(msgs))
            return Visit(page, time.perf_counter() - start, runs, ok)
        except Exception as e:  # noqa: BLE001 - a load test counts failures, it does not stop at one
            return Visit(page, time.perf_counter() - start, runs, False, f"{type(e).__name__}: {e}")


# -- a class at a pace -----------------------------------------------------------------------------------

PAGES = [("editor", "model=mnist-cnn-ae-16"), ("map", "model=mnist-cnn-ae-16"), ("draw", ""),
         ("editor", "model=mnist-mlp-ae-16"), ("classifier", "model=mnist-cnn-clf"), ("", "")]


async def student_loop(url: str, n: int, seconds: float, loads_per_minute: float, visits: list, start_gate) -> None:
    """One student for `seconds`: connect, then open a page about every 60/loads_per_minute seconds
    (random gaps, a random page). Gestures between page loads send nothing (the page keeps them)."""
    rnd = random.Random(n)
    s = Student(url)
    await asyncio.sleep(rnd.uniform(0, 60 / loads_per_minute))  # students do not all arrive at once
    try:
        await s.connect()
    except Exception as e:  # noqa: BLE001
        visits.append(Visit("connect", 0.0, 0, False, f"{type(e).__name__}: {e}"))
        return
    end = start_gate + seconds
    try:
        while time.monotonic() < end:
            page, query = PAGES[rnd.randrange(len(PAGES))]
            visits.append(await s.visit(page, query))
            await asyncio.sleep(rnd.expovariate(loads_per_minute / 60))
    finally:
        await s.close()


async def classroom(url: str, students: int, seconds: float, loads_per_minute: float = 2.0) -> list[Visit]:
    _check_loopback(url)
    visits: list[Visit] = []
    start = time.monotonic()
    await asyncio.gather(*(student_loop(url, n, seconds, loads_per_minute, visits, start) for n in range(students)))
    return visits
