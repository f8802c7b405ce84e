"""What the server does once, as it starts: import what the pages import.

Importing torch, the app's modules and plotly takes about 3 s on two cores. Done here, before the
server takes its first visitor, a page opened on a fresh server (a teacher's first map, say) does not
wait for them. UMAP is not among them: it is imported only when a map has to be computed.
"""
from __future__ import annotations

import ast
import importlib
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


@asynccontextmanager
async def lifespan(app):
    """st.App's start-up hook: the pages' imports, and no automatic pages/ mode.

    Streamlit treats a pages/ folder beside the script as its older automatic multipage mode until
    st.navigation has run once; a first visit to a deep link (/map) would then run the page file
    alone, under a sidebar of file names. The app always navigates with st.navigation."""
    from streamlit.runtime.pages_manager import PagesManager

    PagesManager.uses_pages_directory = False
    try:
        warm_up()
    except Exception:  # noqa: BLE001 - a page that cannot be imported says so when it is opened
        logging.getLogger(__name__).exception("warming up failed; pages will import what they need when opened")
    yield
