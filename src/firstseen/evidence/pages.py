"""What a captured page says about itself (title, text, author, date) and which media it shows.

Text and metadata come from trafilatura; the publication date from htmldate, asked for the
original (not the last-updated) date and only from the page's markup and URL, not guessed from
dates in running text: a wrong date in an evidence trail is worse than none.

Any page a server can send is read without an exception: libxml2's default limits (a text node of
10 MB, such as whitespace before the markup) are lifted for the page sizes a capture keeps, a page
the extractors still cannot read leaves a note saying so, and malformed URLs in it are skipped.
"""

import copy
import logging
import re
from dataclasses import asdict, dataclass
from typing import TypeGuard
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
# Pages are at most a capture's page limit (10 MiB), so libxml2's limits on one text node and on
# nesting depth, meant for unbounded input, would only refuse pages that browsers show.
_PARSER = lxml.html.HTMLParser(huge_tree=True)

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
    notes: tuple[str, ...] = ()  # what could not be extracted, and why

    def as_dict(self) -> dict:
        return asdict(self)


def is_html(content_type: str, body: bytes) -> bool:
    if content_type in ("text/html", "application/xhtml+xml"):
        return True
    head = body[:512].lstrip().lower()
    return not content_type and (head.startswith(b"<!doctype html") or head.startswith(b"<html"))


def _document(html: bytes) -> lxml.html.HtmlElement | None:
    """The page's tree, or None for a page with no markup libxml2 can make a document of."""
    try:
        return lxml.html.document_fromstring(html, parser=_PARSER)
    except (etree.LxmlError, ValueError):
        return None


def join_url(base: str, reference: str) -> str | None:
    """`reference` resolved against `base`, without its fragment; None when either is no URL
    (such as an unclosed IPv6 literal)."""
    try:
        return urldefrag(urljoin(base, reference.strip())).url
    except ValueError:
        return None


def _is_web_url(url: str | None) -> TypeGuard[str]:
    try:
        return url is not None and urlsplit(url).scheme in ("http", "https")
    except ValueError:
        return False


def _path_of(url: str) -> str:
    try:
        return urlsplit(url.strip()).path
    except ValueError:
        return ""


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
            base = join_url(base_url, element.get("href")) or base_url
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
            if _path_of(href).lower().endswith(MEDIA_EXTENSIONS):
                found.append(href)
    links: list[str] = []
    for raw in found:
        url = join_url(base, raw)
        if _is_web_url(url) and url not in links:
            links.append(url)
    return links


_QUOTED_PLAYLIST = re.compile(
    rb"""["']([^"'\s<>]{1,2000}?\.(?:m3u8|mpd)(?:\?[^"'\s<>]{0,2000})?)["']""", re.I
)


def playlist_links(html: bytes, base_url: str) -> list[str]:
    """Absolute URLs of the HLS and DASH playlists a page names as quoted strings, as a script
    hands them to hls.js (`loadSource('/live/index.m3u8')`) or dash.js: players that yt-dlp's
    generic extractor does not recognise. Each once, in page order."""
    links: list[str] = []
    for match in _QUOTED_PLAYLIST.finditer(html):
        url = join_url(base_url, match.group(1).decode("utf-8", "replace"))
        if _is_web_url(url) and url not in links:
            links.append(url)
    return links


def page_info(html: bytes, url: str) -> PageInfo:
    """Title, author, original publication date, site name, description and main text; what
    cannot be extracted is left out, with a note saying why."""
    import htmldate
    import trafilatura

    tree = _document(html)
    notes: list[str] = []
    document = _extract(
        "text and metadata",
        lambda page: trafilatura.bare_extraction(page, url=url, with_metadata=True),
        html,
        tree,
        notes,
    )
    found = _extract(
        "publication date",
        lambda page: htmldate.find_date(page, url=url, original_date=True, extensive_search=False),
        html,
        tree,
        notes,
    )
    try:
        published = parse_published(found)
    except (FirstseenError, ValueError, TypeError):
        published = None
    title = getattr(document, "title", None)
    if not title and tree is not None:
        title = (tree.findtext(".//title") or "").strip() or None
    if tree is None:
        notes.append("no HTML document could be made of the page")
    text = getattr(document, "text", None)
    return PageInfo(
        url=url,
        title=title,
        author=getattr(document, "author", None),
        published=published,
        sitename=getattr(document, "sitename", None),
        description=getattr(document, "description", None),
        text=text[:_TEXT_LIMIT] if text else None,
        notes=tuple(notes),
    )


def _extract(what: str, extractor, html: bytes, tree, notes: list[str]):
    """The extractor's answer for the page as it loads it, else for the tree parsed here (which
    has no size limits on text), else None with a note: a library's failure on one page must not
    lose the capture."""
    failure = None
    for page in (html, None if tree is None else copy.deepcopy(tree)):
        if page is None:
            continue
        try:
            answer = extractor(page)
        except Exception as exc:  # any failure of a third-party extractor on hostile markup
            failure = f"{type(exc).__name__}: {exc}"
            logging.getLogger(__name__).debug("%s of a page failed", what, exc_info=True)
            continue
        if answer is not None:
            return answer
    if failure is not None:
        notes.append(f"{what} not extracted: {failure[:200]}")
    return None
