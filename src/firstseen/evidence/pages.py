"""What a captured page says about itself (title, text, author, date) and which media it shows.

Text and metadata come from trafilatura; the publication date from htmldate, asked for the
original (not the last-updated) date and only from the page's markup and URL, not guessed from
dates in running text: a wrong date in an evidence trail is worse than none.
"""

import logging
import re
from dataclasses import asdict, dataclass
from urllib.parse import urldefrag, urljoin, urlsplit

import lxml.html
from lxml import etree

from firstseen.archive.metadata import parse_published
from firstseen.errors import FirstseenError

MEDIA_EXTENSIONS = (
    ".jpg",
    ".jpeg",
    ".png",
    ".gif",
    ".webp",
    ".bmp",
    ".tif",
    ".tiff",
    ".avif",
    ".heic",
    ".mp4",
    ".m4v",
    ".mov",
    ".webm",
    ".mkv",
    ".avi",
)
_META_MEDIA = {
    "og:image",
    "og:image:url",
    "og:image:secure_url",
    "og:video",
    "og:video:url",
    "og:video:secure_url",
    "twitter:image",
    "twitter:image:src",
    "twitter:player:stream",
}
_TEXT_LIMIT = 20_000  # characters of main text kept in the capture's record

for _name in ("trafilatura", "htmldate", "courlan"):
    logging.getLogger(_name).setLevel(logging.ERROR)


@dataclass(frozen=True, slots=True)
class PageInfo:
    url: str
    title: str | None = None
    author: str | None = None
    published: str | None = None
    sitename: str | None = None
    description: str | None = None
    text: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def is_html(content_type: str, body: bytes) -> bool:
    if content_type in ("text/html", "application/xhtml+xml"):
        return True
    head = body[:512].lstrip().lower()
    return not content_type and (head.startswith(b"<!doctype html") or head.startswith(b"<html"))


def _document(html: bytes) -> lxml.html.HtmlElement | None:
    try:
        return lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return None


def _largest(srcset: str) -> str | None:
    """The candidate of a srcset with the largest width or density descriptor."""
    best, best_size = None, -1.0
    for candidate in re.split(r",\s+", srcset.strip()):
        parts = candidate.strip().split()
        if not parts:
            continue
        size = 1.0
        if len(parts) > 1 and parts[-1][:-1].replace(".", "", 1).isdigit():
            size = float(parts[-1][:-1])
        if size > best_size:
            best, best_size = parts[0], size
    return best


def media_links(html: bytes, base_url: str) -> list[str]:
    """Absolute http(s) URLs of the images and videos a page embeds or links, in page order
    (its declared preview images first), each once."""
    document = _document(html)
    if document is None:
        return []
    base = base_url
    for element in document.iter("base"):
        if element.get("href"):
            base = urljoin(base_url, element.get("href").strip())
            break
    found: list[str] = []
    for element in document.iter("meta"):
        key = (element.get("property") or element.get("name") or "").strip().lower()
        if key in _META_MEDIA and element.get("content"):
            found.append(element.get("content"))
    for element in document.iter("link"):
        if "image_src" in (element.get("rel") or "").lower().split() and element.get("href"):
            found.append(element.get("href"))
    for element in document.iter("img", "source", "video", "a", "image"):
        tag = element.tag
        if tag in ("img", "source"):
            for name in ("src", "data-src"):
                if element.get(name):
                    found.append(element.get(name))
            for name in ("srcset", "data-srcset"):
                if element.get(name) and (largest := _largest(element.get(name))):
                    found.append(largest)
        elif tag == "video":
            found += [element.get(n) for n in ("src", "poster") if element.get(n)]
        elif tag == "image" and element.get("href"):
            found.append(element.get("href"))
        elif tag == "a" and element.get("href"):
            href = element.get("href")
            if urlsplit(href.strip()).path.lower().endswith(MEDIA_EXTENSIONS):
                found.append(href)
    links: list[str] = []
    for raw in found:
        url = urldefrag(urljoin(base, raw.strip())).url
        if urlsplit(url).scheme in ("http", "https") and url not in links:
            links.append(url)
    return links


def page_info(html: bytes, url: str) -> PageInfo:
    """Title, author, original publication date, site name, description and main text."""
    import htmldate
    import trafilatura

    document = None
    try:
        document = trafilatura.bare_extraction(html, url=url, with_metadata=True)
    except Exception:  # a page trafilatura cannot handle still gets its date and title
        logging.getLogger(__name__).debug("trafilatura failed on %s", url, exc_info=True)
    published = None
    try:
        found = htmldate.find_date(html, url=url, original_date=True, extensive_search=False)
        published = parse_published(found)
    except (FirstseenError, ValueError, TypeError):
        published = None
    title = getattr(document, "title", None)
    if not title and (tree := _document(html)) is not None:
        title = (tree.findtext(".//title") or "").strip() or None
    text = getattr(document, "text", None)
    return PageInfo(
        url=url,
        title=title,
        author=getattr(document, "author", None),
        published=published,
        sitename=getattr(document, "sitename", None),
        description=getattr(document, "description", None),
        text=text[:_TEXT_LIMIT] if text else None,
    )
