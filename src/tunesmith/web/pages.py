"""The HTML pages' templates, shared by every tab: one Jinja environment, with the tabs the modes declare."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.templating import Jinja2Templates

from ..modes import all_modes

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters["timestamp"] = lambda t: time.strftime("%Y-%m-%d %H:%M", time.gmtime(t))
# The navigation: one tab per mode that has a page (its `Mode.web`), in the registry's order.
templates.env.globals["tabs"] = [mode.web for mode in all_modes() if mode.web is not None]
