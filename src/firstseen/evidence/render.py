"""Writing a report: one self-contained HTML file (pictures embedded, nothing loaded from
anywhere), a PDF printed from that HTML by WeasyPrint, or the report's data as JSON."""

import json
import os
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from firstseen.errors import FirstseenError
from firstseen.evidence.report import Report

FORMATS = (".html", ".htm", ".pdf", ".json")


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("firstseen.evidence", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=2, ensure_ascii=False)
    env.filters["ld_json"] = _ld_json
    env.filters["link"] = _link
    return env


def _link(url: str | None) -> Markup:
    """A link for http(s) URLs; any other scheme (javascript:, data:, file:) stays plain text."""
    if not url:
        return Markup("")
    text = escape(url)
    if urlsplit(url).scheme.lower() in ("http", "https"):
        return Markup(f'<a href="{text}">{text}</a>')
    return Markup(f"<code>{text}</code>")


def _ld_json(value) -> str:
    """JSON for a <script> data block: `</` and `<!--` cannot end or confuse the block."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def render_html(report: Report) -> str:
    return _environment().get_template("report.html.j2").render(r=report.data, img=report.images)


def _weasyprint():
    """WeasyPrint's HTML class. Importing WeasyPrint sets Pillow's LOAD_TRUNCATED_IMAGES for the
    whole process, which would let truncated files through firstseen's decoders (in a server or
    a test run that also renders a PDF): the flag is put back. The report's own pictures are
    whole JPEGs, so WeasyPrint does not need it."""
    from PIL import ImageFile

    lenient = ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: the Pango libraries are missing
        raise FirstseenError(
            f"cannot write PDF: WeasyPrint is unavailable ({exc}); write .html instead"
        ) from exc
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = lenient
    return HTML


def render_pdf(html: str, target: Path) -> None:
    _weasyprint()(string=html).write_pdf(target)


def check_target(target: Path) -> None:
    """Refuses a report file of no known format, or in a folder that does not exist: a mistyped
    folder is named, not made."""
    if target.suffix.lower() not in FORMATS:
        raise FirstseenError(f"{target}: the report is written as .html, .pdf or .json")
    if not target.parent.is_dir():
        raise FirstseenError(f"{target}: no folder {target.parent} to write it in")


def write_report(report: Report, target: Path) -> Path:
    """Writes the report in the format the file name's extension names; atomically."""
    check_target(target)
    suffix = target.suffix.lower()
    partial = target.with_name(f".{target.name}.part")
    try:
        if suffix == ".json":
            partial.write_text(json.dumps(report.data, indent=2, ensure_ascii=False) + "\n")
        elif suffix == ".pdf":
            render_pdf(render_html(report), partial)
        else:
            partial.write_text(render_html(report), encoding="utf-8")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target
