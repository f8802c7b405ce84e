"""Every string the app shows, one table per language (text_en.py, text_zh.py); `text(lang, key, **values)`
picks one, and pages call it through `common.t`."""
from __future__ import annotations

from .text_en import EN
from .text_zh import ZH

LANGUAGES = {"en": "English", "zh": "中文"}
TABLES = {"en": EN, "zh": ZH}


def text(lang: str, key: str, **values) -> str:
    table = TABLES.get(lang, EN)
    return table[key].format(**values) if values else table[key]
