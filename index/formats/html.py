"""HTML dispatches (``.html``/``.htm``): the article's text and its metadata.

The body text comes from trafilatura, which finds an article among menus, share buttons, cookie
banners, related links and comments far better than tag and class rules do (word F1 0.836 -> 0.96
on the article-extraction benchmark, see docs/benchmarks.md). The metadata (title, date, agency,
language) stays the project's own reading of the markup, and so does the body text whenever
trafilatura finds none (a page too small or too odd for its heuristics).

trafilatura only ever parses the string it is given here: no URL is passed, no metadata extraction
(htmldate) runs, nothing is fetched. Pathological markup is bounded by the loader's worker timeout
(index/loader.py), like every other format.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

from index.agencies import canonical_agency, dateline, explicit_source
from index.dates import parse_date
from index.dispatch import Dispatch, DocumentError, LoadResult, with_hash
from index.titles import declared_language, first_sentence, guess_language, shorten

__all__ = ["article_paragraphs", "load_html"]

_DROP_TAGS = (
    "script", "style", "noscript", "nav", "header", "footer", "aside", "form", "iframe", "svg",
    "button", "template", "object", "embed", "canvas", "select", "dialog",
)  # fmt: skip
_BLOCK_TAGS = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre")
_NAVIGATION_TAGS = frozenset({"nav", "header", "footer", "aside"})
_KEEP_TAGS = frozenset({"html", "body", "main", "article"})
_BOILERPLATE_RE = re.compile(
    r"(?<![a-z])(?:nav|menu|cookie|footer|sidebar|share|sharing|related|comment|newsletter"
    r"|advert|breadcrumb)"
)
_DATE_META = (
    "article:published_time",
    "date",
    "dc.date",
    "dc.date.issued",
    "dcterms.date",
    "datepublished",
    "og:published_time",
    "pubdate",
    "publishdate",
)
_SOURCE_META = ("source", "dc.source", "agency")  # any value: explicitly a source
_AGENCY_ONLY_META = ("og:site_name", "author", "dc.publisher")  # only a known agency


def _looks_like_boilerplate(tag: Any) -> bool:
    attrs = getattr(tag, "attrs", None)
    if not attrs:
        return False
    classes = attrs.get("class") or []
    if isinstance(classes, str):
        classes = classes.split()
    names = [*classes, attrs.get("id") or "", attrs.get("role") or ""]
    for name in names:
        if not isinstance(name, str) or not name:
            continue
        # "mainNav" -> "main-nav": a name part starting with one of the words
        name = re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", name).lower()
        if _BOILERPLATE_RE.search(name) or name in ("navigation", "banner", "contentinfo"):
            return True
    return False


def _decomposed(tag: Any) -> bool:
    """``tag.decomposed`` without its cost: bs4 reads ``_decomposed`` with getattr, which on a
    tag never decomposed falls through to ``Tag.__getattr__`` = a search of every descendant
    (quadratic over a page: 100,000 nested <div> took tens of minutes)."""
    return bool(vars(tag).get("_decomposed", False))


def _collapse(s: str) -> str:
    return " ".join(s.split())


def _block_texts(container: Any) -> list[str]:
    """Text of each block element (p, h1-h6, li, blockquote, pre), in document order.

    A string belongs to its nearest enclosing block, so nested blocks (a <p> inside a
    <blockquote>, a list inside a list item) are not repeated.
    """
    from bs4 import NavigableString

    blocks = container.find_all(list(_BLOCK_TAGS))
    if container.name in _BLOCK_TAGS:
        blocks.insert(0, container)
    parts: dict[int, list[str]] = {id(b): [] for b in blocks}
    block_of: dict[int, Any] = {}  # id(element) -> its nearest enclosing block (None: none)
    for s in container.find_all(string=True):
        if type(s) is not NavigableString:  # comments, doctype, CDATA, script strings...
            continue
        node = _nearest_block(s.parent, container, block_of)
        if node is not None and id(node) in parts:
            parts[id(node)].append(str(s))
    out = []
    for b in blocks:
        t = _collapse("".join(parts[id(b)]))
        if t:
            out.append(t)
    return out


def _subtree_stats(soup: Any) -> tuple[dict[int, int], set[int]]:
    """Per element id: the characters of text under it, and whether an <article>/<main> is under it.

    One pass from the last element to the first (children before parents), where asking each tag
    for its text and its <article> costs a walk of its subtree: quadratic on nested markup.
    """
    from bs4 import NavigableString, Tag

    chars: dict[int, int] = {}
    holds: set[int] = set()
    for el in reversed(list(soup.descendants)):
        parent = el.parent
        if parent is None:
            continue
        if isinstance(el, Tag):
            n = chars.get(id(el), 0)
            if el.name in ("article", "main") or id(el) in holds:
                holds.add(id(parent))
        else:
            n = len(el) if type(el) is NavigableString else 0
        if n:
            chars[id(parent)] = chars.get(id(parent), 0) + n
    return chars, holds


def _nearest_block(start: Any, container: Any, block_of: dict[int, Any]) -> Any:
    """The nearest element from ``start`` up that is a block, stopping at ``container``.

    Memoised over the path walked, so strings deep in nested markup cost one walk in all
    (without it, n strings under n nested <div> cost n^2 steps).
    """
    path: list[int] = []
    node = start
    found = None
    while node is not None:
        if id(node) in block_of:
            found = block_of[id(node)]
            break
        if node.name in _BLOCK_TAGS:
            found = node
            break
        if node is container:
            break
        path.append(id(node))
        node = node.parent
    for key in path:
        block_of[key] = found
    return found



def _parse(html: str) -> Any:
    from bs4 import BeautifulSoup

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bs4 warns about markup that looks like a URL or a file name
        return BeautifulSoup(html, "html.parser")


def _meta_tags(soup: Any) -> dict[str, str]:
    """<meta> name/property/itemprop (lowercased) -> content; the first of each name wins."""
    meta: dict[str, str] = {}
    for tag in soup.find_all("meta"):
        key = tag.get("property") or tag.get("name") or tag.get("itemprop")
        value = tag.get("content")
        if isinstance(key, str) and isinstance(value, str) and value.strip():
            meta.setdefault(key.strip().lower(), value.strip())
    return meta


def _article_headings(soup: Any) -> dict[int, str]:
    """id(<article>/<main>) -> its <h1>, read before the <header> that often holds it is dropped."""
    h1_of: dict[int, str] = {}
    for box in soup.find_all(["article", "main"]):
        if (h1 := box.find("h1")) and (t := _collapse(h1.get_text(" "))):
            h1_of[id(box)] = t
    return h1_of


def _published_date(soup: Any, meta: dict[str, str]) -> str | None:
    """From the date meta tags, else the first <time datetime>."""
    for key in _DATE_META:
        if key in meta and (date := parse_date(meta[key])):
            return date
    for t in soup.find_all("time"):
        if (dt := t.get("datetime")) and (date := parse_date(dt)):
            return date
    return None


def _page_language(soup: Any) -> str | None:
    if soup.html is None:
        return None
    return declared_language(soup.html.get("lang") or soup.html.get("xml:lang"))


def _article_depths(soup: Any) -> tuple[set[int], int]:
    """ids of the elements within an <article> or <main>, and the deepest nesting, in one pass."""
    inside: set[int] = set()
    depth: dict[int, int] = {id(soup): 0}
    for tag in soup.find_all(True):  # document order: a parent before its children
        parent = tag.parent
        depth[id(tag)] = depth.get(id(parent), 0) + 1
        if parent is not None and (id(parent) in inside or parent.name in ("article", "main")):
            inside.add(id(tag))
    return inside, max(depth.values())


def _drop_boilerplate(soup: Any, inside_article: set[int]) -> set[str]:
    """Drop non-content elements, then the boilerplate-looking ones, but never a wrapper holding the
    article or most of the page's text (a site that calls its whole layout "main-nav-wrapper").

    Returns the paragraphs of the navigation and boilerplate dropped outside any <article>/<main>:
    trafilatura keeps some of those (a menu named "mainMenu", a page that is only a <nav>), while
    inside the article its judgement beats these rules.
    """
    dropped: set[str] = set()
    for br in soup.find_all("br"):
        br.replace_with(" ")
    _, holds_article = _subtree_stats(soup)
    for tag in soup.find_all(list(_DROP_TAGS)):
        if _decomposed(tag):
            continue
        if tag.name in _NAVIGATION_TAGS and id(tag) not in inside_article and id(tag) not in holds_article:
            dropped.update(_container_text(tag).split("\n\n"))
        tag.decompose()
    # Text sizes measured once for every tag: a tag is judged before any of its descendants is
    # dropped (document order), so its size cannot change before it is judged.
    chars, holds_article = _subtree_stats(soup)
    page_chars = chars.get(id(soup), 0)
    for tag in soup.find_all(True):
        if _decomposed(tag) or tag.name in _KEEP_TAGS or not _looks_like_boilerplate(tag):
            continue
        if id(tag) in holds_article or chars.get(id(tag), 0) > page_chars / 2:
            continue
        if id(tag) not in inside_article:
            dropped.update(_container_text(tag).split("\n\n"))
        tag.decompose()
    return dropped


def _article_container(soup: Any) -> Any:
    """The longest <article>, else <main>, else the body (a cleaned soup)."""
    if articles := soup.find_all("article"):
        return max(articles, key=lambda a: len(a.get_text()))
    return soup.find("main") or soup.body or soup


def _container_text(container: Any) -> str:
    """The project's own extraction: the container's blocks (or, lacking any, its lines)."""
    blocks = _block_texts(container)
    if not blocks:
        blocks = [ln for ln in (_collapse(x) for x in container.get_text("\n").split("\n")) if ln]
    return "\n\n".join(blocks)


# libxml2 (under lxml, under trafilatura) stops at 256 levels of nesting and drops what lies deeper:
# such a page is read by the project's own extraction, which has no depth limit.
_LXML_MAX_DEPTH = 255

# trafilatura's output elements that hold text of their own: each one is a paragraph. Its inline
# elements (hi, ref, del, lb = a line break, read as a space) belong to the paragraph around them.
_TRAFILATURA_BLOCKS = frozenset({"body", "p", "head", "item", "list", "quote", "code", "table", "row", "cell", "div"})


def _element_paragraphs(body: Any) -> list[str]:
    """Each block element's own text (not its nested blocks'), whitespace collapsed, in order."""
    from lxml import etree

    parts: list[list[str]] = []
    stack: list[int] = []  # index in parts of the block each open element writes to
    for event, el in etree.iterwalk(body, events=("start", "end")):
        if event == "start":
            if el.tag in _TRAFILATURA_BLOCKS or not stack:
                parts.append([])
                stack.append(len(parts) - 1)
            else:
                stack.append(stack[-1])
            parts[stack[-1]].append(" " if el.tag == "lb" else el.text or "")
        else:
            stack.pop()
            if stack and el.tail:
                parts[stack[-1]].append(el.tail)
    return [p for p in (_collapse("".join(x)) for x in parts) if p]


def article_paragraphs(html: str) -> list[str]:
    """trafilatura's paragraphs of the page's article; [] when it finds no article."""
    from trafilatura import bare_extraction  # lazy: lxml and its helpers load only for HTML files

    # favor_precision: on the extraction benchmark it keeps out more boilerplate (precision 0.942 ->
    # 0.958) for less body lost (recall 0.978 -> 0.971), and it keeps a short page's text to its
    # article where the default falls back to every word of the page.
    found = bare_extraction(html, url=None, with_metadata=False, favor_precision=True, include_comments=False,
                            include_images=False, include_links=False, include_tables=True, deduplicate=False)
    if found is None or found.body is None:
        return []
    return _element_paragraphs(found.body)


def _title(h1_of: dict[int, str], meta: dict[str, str], soup: Any, container: Any, text: str) -> str | None:
    """The article's <h1>, og:title, <title>, a remaining <h1>, else the body's first sentence."""
    title = h1_of.get(id(container)) or _collapse(meta.get("og:title", "")) or None
    if title is None and soup.title is not None:
        title = _collapse(soup.title.get_text(" ")) or None
    if title is None and (h1 := container.find("h1")):
        title = _collapse(h1.get_text(" ")) or None
    if title is None:
        title = first_sentence(text[dateline(text)[1]:])
    return shorten(title) if title else None


def _headlines(soup: Any, meta: dict[str, str], h1_of: dict[int, str]) -> set[str]:
    """Every way the page states its title: <h1>s, og:title, <title>."""
    found = {*h1_of.values(), _collapse(meta.get("og:title", ""))}
    found.update(_collapse(h1.get_text(" ")) for h1 in soup.find_all("h1"))
    if soup.title is not None:
        found.add(_collapse(soup.title.get_text(" ")))
    return found


def _source(meta: dict[str, str], text: str) -> str | None:
    """An explicit source meta tag (any value), a publisher/author meta naming a known agency, else
    a dateline or signature in the text."""
    for key in _SOURCE_META:
        if meta.get(key):
            return meta[key]
    for key in _AGENCY_ONLY_META:
        if source := canonical_agency(meta.get(key)):
            return source
    return explicit_source(text)


def load_html(html: str, doc_id: str, source_path: str, shown: str) -> LoadResult:
    soup = _parse(html)
    meta = _meta_tags(soup)
    h1_of = _article_headings(soup)
    date = _published_date(soup, meta)
    page_language = _page_language(soup)
    inside_article, depth = _article_depths(soup)
    boilerplate = _drop_boilerplate(soup, inside_article)
    container = _article_container(soup)
    text = ""
    if depth < _LXML_MAX_DEPTH:
        paragraphs = [p for p in article_paragraphs(html) if p not in boilerplate]
        if paragraphs and paragraphs[0] in _headlines(soup, meta, h1_of):
            paragraphs = paragraphs[1:]  # the title is metadata; the text starts at the dateline
        text = "\n\n".join(paragraphs)
    text = text or _container_text(container)
    if not text.strip():
        raise DocumentError(shown, "no article text found in the HTML")
    dispatch = Dispatch(
        doc_id=doc_id,
        title=_title(h1_of, meta, soup, container, text),
        date=date,
        source=_source(meta, text),
        language=page_language or guess_language(text),
        text=text,
        source_path=source_path,
    )
    return LoadResult([with_hash(dispatch)])
