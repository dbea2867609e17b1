"""A Korean font for matplotlib: the NanumGothic that ``koreanize-matplotlib`` ships, registered by file.

matplotlib's default DejaVu Sans has no Hangul, so Korean titles and labels come out as empty boxes (and a
"Glyph missing" warning). :func:`use_korean_font` registers the bundled TTF with the font manager and makes it
the default family, without importing ``koreanize_matplotlib`` (which would also import pyplot).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from lex_dpr.errors import InputError

FONT_FILE = "NanumGothic.ttf"
FONT_NAME = "NanumGothic"


def korean_font_path() -> Path:
    """The bundled NanumGothic TTF.

    Raises:
        InputError: ``koreanize-matplotlib`` is not installed (with the command that installs it).
    """
    spec = importlib.util.find_spec("koreanize_matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("no Korean font: koreanize-matplotlib is not installed; run `poetry install` "
                         "(or `pip install koreanize-matplotlib`)")
    for location in spec.submodule_search_locations:
        path = Path(location) / "fonts" / FONT_FILE
        if path.is_file():
            return path
    raise InputError(f"koreanize-matplotlib has no fonts/{FONT_FILE}; reinstall it with `poetry install`")


def use_korean_font() -> str:
    """Make NanumGothic matplotlib's default font (Hangul renders as text, not boxes); returns its family name.

    Example:
        >>> use_korean_font()
        'NanumGothic'
    """
    import matplotlib
    from matplotlib import font_manager

    path = korean_font_path()
    if FONT_NAME not in {f.name for f in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(str(path))
    matplotlib.rcParams["font.family"] = FONT_NAME
    matplotlib.rcParams["axes.unicode_minus"] = False  # NanumGothic has no U+2212 minus sign
    return FONT_NAME
