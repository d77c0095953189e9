"""Reply templates from config/templates.yaml (a community edits the wording, not the code)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DEFAULT_TEMPLATES = Path(__file__).resolve().parent.parent / "config" / "templates.yaml"


class TemplateError(ValueError):
    pass


class Templates:
    def __init__(self, path: Path = DEFAULT_TEMPLATES) -> None:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise TemplateError(f"回复模板 {path} 无法读取：{exc}") from exc
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise TemplateError(f"回复模板 {path}：每一项都应是「键: 文本」")
        self._texts: dict[str, str] = data
        self.path = path

    def render(self, key: str, **values: Any) -> str:
        try:
            return self._texts[key].format(**values)
        except KeyError as exc:
            raise TemplateError(f"回复模板 {self.path}：缺少 {key} 或其占位符 {exc}") from exc

    def has(self, key: str) -> bool:
        return key in self._texts
