"""Pure parts of the web chat: rendering, streaming, upload storage, launch options (no model, no server)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.settings import Settings, SettingsError
from ui import render
from ui.library import safe_name, store_uploads, upload_file_of
from ui.stream import accumulate, answer_events, extractive_events

TEXT = ("Titre de la dépêche\n\nPremière phrase sans intérêt. Poutine exige le retrait des troupes "
        "<script>alert(1)</script> de Koursk. Dernière phrase.")
QUOTE_START = TEXT.index("Poutine")
QUOTE_END = TEXT.index("Dernière") - 1


def citation(marker=1, **over):
    c = {"marker": marker, "doc_id": "d1.txt", "source_path": "/data/library/d1.txt", "title": "Titre <b>gras</b>",
         "date": "2025-03-14", "source": "AFP", "quote": TEXT[QUOTE_START:QUOTE_END], "start": QUOTE_START,
         "end": QUOTE_END, "score": 0.8}
    c.update(over)
    return c


def answer(**over):
    a = {"question": "Que demande Poutine ?", "answer": f"{TEXT[QUOTE_START:QUOTE_END]} [1]", "abstained": False,
         "citations": [citation()], "related": [], "language": "fr"}
    a.update(over)
    return a


def abstention():
    return answer(answer="Les dépêches indexées ne répondent pas à cette question.", abstained=True, citations=[],
                  related=[citation(marker=None)])


class FakeAnswer:
    def __init__(self, text):
        self.answer = text


# -- escaping --------------------------------------------------------------------------------

@pytest.mark.parametrize("hostile", [
    "<script>alert(1)</script>", '<img src="http://example.invalid/x.png" onerror="alert(1)">',
    '<a href="http://example.invalid">lien</a>', "${alert(1)}", "{{value}}", "`x`",
])
def test_esc_leaves_no_markup_or_template(hostile):
    out = render.esc(hostile)
    assert "<" not in out and ">" not in out and "{" not in out and "$" not in out and "`" not in out
    assert '"' not in out


def test_answer_markers_become_buttons_only_for_known_citations():
    html = render.answer_body_html(answer(answer="A <img src=x onerror=alert(1)> [1] B [9] C [1, 2]"), turn=3)
    assert html.count('class="dq-cite"') == 1
    assert 'data-marker="1" aria-label="citation 1" data-cite="1" data-turn="3" data-kind="citation"' in html
    assert "[9]" in html and "[1, 2]" in html  # unknown markers stay text
    assert "<img" not in html and "&lt;img" in html


def test_partial_answer_markers_are_inert():
    html = render.partial_html("Début [1] <b>x</b>")
    assert "dq-pending" in html and "data-cite" not in html and "<b>" not in html


def test_empty_transcript_offers_examples():
    html = render.transcript_html([], ["Q <1>", "Q2"])
    assert html.count('class="dq-example"') == 2 and 'data-example="Q &lt;1&gt;"' in html


def test_transcript_turns_answer_error_and_streaming():
    turns = [{"question": "<q1>", "language": "fr", "answer": answer(), "error": None},
             {"question": "q2", "language": "en", "answer": None, "error": "Something went wrong: boom"},
             {"question": "q3", "language": "fr", "answer": None, "error": None, "partial": "Poutine [1]"}]
    html = render.transcript_html(turns)
    assert "&lt;q1&gt;" in html and "<q1>" not in html
    assert 'class="dq-cite"' in html and "dq-error" in html and "boom" in html
    assert "dq-streaming" in html and "dq-pending" in html
    assert html.count('data-md="') == 1  # copy/export only for complete answers
    assert "<script>" not in html


def test_abstention_shows_related_not_citations():
    turns = [{"question": "tarte ?", "language": "fr", "answer": abstention(), "error": None}]
    html = render.transcript_html(turns)
    assert "dq-abstained" in html and "pas des citations" in html
    assert 'data-kind="related"' in html and 'class="dq-cite"' not in html
    assert html.count("dq-card-related") == 1  # listed once, under the answer
    panel = render.sources_html(abstention(), 0)
    assert "dq-card" not in panel and "passages liés sont listés sous la réponse" in panel
    en = render.sources_html({**abstention(), "language": "en"}, 0)
    assert "related passages are listed under the answer" in en


def test_sources_cards_list_every_citation_with_metadata():
    a = answer(answer="x [1] y [2]", citations=[citation(1), citation(2, doc_id="d2.txt", source=None, date=None)])
    html = render.sources_html(a, 5)
    assert html.count("dq-card-citation") == 2
    assert 'data-cite="2" data-turn="5"' in html
    assert 'AFP · 2025-03-14 · <span class="dq-shortid" title="d1.txt">d1.txt</span>' in html
    assert html.count("dq-badge-warn") == 2 and ">non datée<" in html and ">agence inconnue<" in html
    assert "Titre &lt;b&gt;gras&lt;/b&gt;" in html
    assert "dq-active" not in html
    active = render.sources_html(a, 5, active=("citation", 2))
    assert active.count("dq-active") == 1 and 'dq-active" data-cite="2"' in active


def test_dispatch_view_marks_exactly_the_cited_range():
    doc = {"doc_id": "d1.txt", "title": "T", "date": None, "source": "AFP", "source_path": "/x/d1.txt", "text": TEXT}
    html = render.dispatch_html(doc, citation(), "fr")
    marked = re.search(r'<mark class="dq-mark">(.*?)</mark>', html, re.S).group(1)
    assert marked == render.esc(TEXT[QUOTE_START:QUOTE_END])
    assert "&lt;script&gt;" in marked and "<script>" not in html
    assert f"passage {QUOTE_START}–{QUOTE_END}" in html and "/x/d1.txt" in html and "AFP" in html


def test_dispatch_view_follows_a_moved_passage_and_reports_a_changed_one():
    doc = {"doc_id": "d1.txt", "title": "T", "text": "Nouveau paragraphe.\n" + TEXT}
    moved = render.dispatch_html(doc, citation(), "en")
    assert "found at a new position" in moved and '<mark class="dq-mark">' in moved
    gone = render.dispatch_html({**doc, "text": "Tout autre texte."}, citation(), "fr")
    assert "n’est plus dans son texte" in gone and "<mark" not in gone
    assert "n’est plus dans l’index" in render.dispatch_html(None, citation(), "fr")


def test_long_dispatch_is_windowed_around_the_passage(monkeypatch):
    monkeypatch.setattr(render, "DISPATCH_VIEW_CHARS", 100)
    text = "a" * 500 + "LE PASSAGE" + "b" * 500
    html = render.dispatch_html({"doc_id": "x", "text": text}, {"start": 500, "end": 510, "quote": "LE PASSAGE"}, "en")
    assert '<mark class="dq-mark">LE PASSAGE</mark>' in html and "Long dispatch" in html
    assert len(html) < 1500


def test_markdown_export_has_answer_markers_and_citations():
    md = render.answer_markdown(answer())
    assert md.startswith("**Question:** Que demande Poutine ?")
    assert "[1]" in md and "[1] Titre <b>gras</b> — 2025-03-14 — AFP" in md
    assert f"`d1.txt` [{QUOTE_START}:{QUOTE_END}]" in md and "/data/library" not in md
    assert "> " + " ".join(TEXT[QUOTE_START:QUOTE_END].split()) in md
    assert "Passages liés" in render.answer_markdown(abstention())


# -- issue 13's fields: speaker, dates, versions, disagreement (read with .get: older answers lack them) --

def test_card_headline_meta_badges_and_short_id():
    from ui.cards import card_html

    long_id = "dossier/" + "x" * 40 + ".jsonl#42"
    html = card_html(citation(speaker="Dmitri Peskov", doc_id=long_id, title="Un  titre\nsur deux lignes"),
                     0, "citation", 1, "fr", "1")
    assert 'class="dq-card-title" title="Un titre sur deux lignes">Un titre sur deux lignes<' in html
    assert "AFP · 2025-03-14 · " in html and ">selon Dmitri Peskov<" in html
    short = re.search(r'class="dq-shortid" title="[^"]*">([^<]*)<', html).group(1)
    assert len(short) <= 28 and "…" in short and short.endswith(".jsonl#42")
    assert "dq-badge-warn" not in html
    bare = card_html(citation(date=None, source=None, title=None), 0, "citation", 1, "en", "1")
    assert ">undated<" in bare and ">unknown agency<" in bare and "dq-speaker" not in bare
    assert 'class="dq-card-title" title="d1.txt"' in bare  # no title: the id


def test_two_cards_of_one_dispatch_differ_by_their_quote_and_long_quotes_expand():
    a = answer(citations=[citation(1), citation(2, quote="Dernière phrase.", start=TEXT.index("Dernière"),
                                                end=len(TEXT))])
    html = render.sources_html(a, 0)
    quotes = re.findall(r'<span class="dq-quote">(.*?)</span></button>', html)
    assert len(quotes) == 2 and quotes[0] != quotes[1]
    assert "data-expand" not in html  # short quotes are shown whole
    long_quote = "mot " * 60
    html = render.sources_html(answer(citations=[citation(quote=long_quote, start=0, end=len(long_quote))]), 0)
    assert 'data-expand="1" aria-expanded="false"' in html and "Voir toute la citation" in html


def test_dates_are_resolved_beside_their_words():
    from ui.quotes import date_label, quote_html

    quote = "Il a parlé vendredi à Moscou, le 14 mars 2025, et reviendra en août, un jour."
    base = 1000

    def mention(words, value):
        at = quote.index(words)
        return {"text": words, "start": base + at, "end": base + at + len(words), "value": value}

    c = {"quote": quote, "start": base, "end": base + len(quote), "dates": [
        mention("vendredi", "2025-03-14"), mention("14 mars 2025", "2025-03-14"), mention("en août", "2025-08"),
        mention("un jour", None), {"text": "x", "start": 5, "end": 6, "value": "2025-01-01"}]}
    html = quote_html(c, "fr")
    assert 'vendredi <span class="dq-date-note">(14 mars 2025)</span> à Moscou' in html
    assert html.count("dq-date-note") == 2  # the spelled-out date, the null value, the span outside add nothing
    assert 'en août <span class="dq-date-note">(août 2025)</span>' in html
    assert "(14 March 2025)" in quote_html(c, "en")
    assert date_label("2025-03-01", "fr") == "1er mars 2025" and date_label("2025-13", "fr") is None
    hl = {**c, "highlight": {"start": base + quote.index("vendredi"), "end": base + quote.index(" à Moscou")}}
    assert ('<strong class="dq-hl">vendredi</strong> <span class="dq-date-note">(14 mars 2025)</span>'
            in quote_html(hl, "fr"))
    body = render.answer_body_html(answer(citations=[{**citation(), **c, "marker": 1}],
                                          answer=f"{quote} [1]"), 0)
    assert "(14 mars 2025)" in body  # an extractive answer drawn from its quotes shows them too


def test_speaker_in_the_markdown_export():
    md = render.answer_markdown(answer(citations=[citation(speaker="le Kremlin")]))
    assert "[1] Titre <b>gras</b> — 2025-03-14 — AFP — Propos de : le Kremlin" in md
    assert "Propos de" not in render.answer_markdown(answer())


def test_versions_list_opens_from_the_card_with_a_compare_button_each():
    versions = [{"doc_id": "d2.txt", "title": "Titre <v2>", "date": "2025-03-13", "source": "Reuters"},
                {"doc_id": "d3.txt", "title": None, "date": None, "source": None}]
    html = render.sources_html(answer(citations=[citation(versions=versions)]), 4)
    assert '<details class="dq-versions"><summary>aussi dans 2 dépêches</summary>' in html
    assert "Titre &lt;v2&gt;" in html and "2025-03-13 · Reuters" in html and "non datée · agence inconnue" in html
    assert html.count("data-other=") == 2 and 'data-cite="1" data-turn="4" data-kind="citation" data-other="d3.txt"' in html
    assert "aussi dans 1 dépêche<" in render.sources_html(answer(citations=[citation(versions=versions[:1])]), 0)
    assert "dq-versions" not in render.sources_html(answer(citations=[citation(versions=[])]), 0)


def test_sentence_diff_lists_added_and_removed_sentences():
    from ui.versions import diff_html, sentence_diff

    old = "Koursk (AFP) - Le bilan est de trois morts. Les secours sont sur place. Un témoin a parlé."
    new = "Koursk (AFP) - Le bilan est de cinq morts. Les secours sont sur place. Un témoin a parlé. Kiev dément."
    ops = sentence_diff(old, new)
    assert ("removed", "Koursk (AFP) - Le bilan est de trois morts.") in ops
    assert ("added", "Koursk (AFP) - Le bilan est de cinq morts.") in ops and ("added", "Kiev dément.") in ops
    assert [op for op, _ in ops].count("same") == 2
    assert sentence_diff(old, old) == [("same", s) for _, s in sentence_diff(old, old)]
    html = diff_html({"doc_id": "a", "title": "V1", "text": old}, {"doc_id": "b", "title": "V2", "text": new}, "fr")
    assert "2 phrase(s) ajoutée(s), 1 retirée(s), 2 identique(s)" in html
    assert html.index("trois morts") < html.index("cinq morts")  # removed before added, in reading order
    assert '<del class="dq-diff-removed"' in html and '<ins class="dq-diff-added"' in html
    assert "2 phrase(s) identique(s)" in html and "V1" in html and "V2" in html
    same = diff_html({"doc_id": "a", "title": "T", "text": old}, {"doc_id": "b", "title": "T", "text": old}, "en")
    assert "Both versions have the same sentences." in same
    assert "from “a” to “b”" in same  # one headline for both: named by their ids


def test_versions_diff_reads_both_texts_through_the_callback():
    from ui.versions import versions_diff_html

    texts = {"new.txt": "Le bilan monte. Kiev dément. Moscou se tait.", "old.txt": "Le bilan monte. Moscou se tait."}
    document = lambda doc_id: {"doc_id": doc_id, "title": doc_id, "text": texts[doc_id]} if doc_id in texts else None  # noqa: E731
    cited = {"doc_id": "new.txt", "versions": [{"doc_id": "old.txt"}]}
    html = versions_diff_html(document, cited, "old.txt", "fr")
    assert "1 phrase(s) ajoutée(s), 0 retirée(s)" in html and "Kiev dément." in html
    # only a listed version is compared, and a vanished one says so
    assert "n’est plus dans l’index" in versions_diff_html(document, cited, "other.txt", "fr")
    assert "no longer in the index" in versions_diff_html(document, {**cited, "doc_id": "gone"}, "old.txt", "en")


def test_disagreement_sides_next_to_each_other_with_their_markers():
    from ui.sides import disagreement_html

    a = answer(answer="Selon Donald Trump, x [1] Kiev affirme au contraire y [2]",
               citations=[citation(1, quote="Les troupes sont encerclées"), citation(2, quote="Pas d'encerclement")],
               disagreement=[{"speaker": "Donald Trump", "markers": [1]}, {"speaker": None, "markers": [2, 7]}])
    html = disagreement_html(a, 3)
    assert html.count('class="dq-side"') == 2 and "Les sources divergent" in html
    assert html.index("Donald Trump") < html.index("encerclées") < html.index("La dépêche") < html.index("Pas d")
    assert 'data-marker="2" aria-label="citation 2" data-cite="2" data-turn="3"' in html
    assert "dq-disagreement" in render.answer_body_html(a, 3)
    assert disagreement_html({**a, "disagreement": None}, 0) == ""
    assert disagreement_html({**a, "disagreement": [{"speaker": "X", "markers": [1]}]}, 0) == ""  # one side
    assert "dq-disagreement" not in render.answer_body_html(answer(), 0)

# -- streaming -------------------------------------------------------------------------------

def test_extractive_events_replay_text_then_answer():
    a = FakeAnswer("Un deux trois quatre cinq six sept [1] huit.")
    events = list(extractive_events(a, words=3, pause=0))
    assert events[-1] is a and all(isinstance(e, str) for e in events[:-1])
    assert "".join(events[:-1]) == a.answer and len(events) > 3
    steps = list(accumulate(iter(events)))
    assert steps[-1] == (a.answer, a) and all(final is None for _, final in steps[:-1])
    assert [len(text) for text, _ in steps] == sorted(len(text) for text, _ in steps)


def test_accumulate_needs_a_final_answer():
    with pytest.raises(RuntimeError, match="without a final answer"):
        list(accumulate(iter(["a", "b"])))


def test_answer_events_passes_deltas_through_and_replays_a_whole_answer():
    final = FakeAnswer("generated")

    class Generative:
        def ask_stream(self, question, filters=None, history=None):
            self.history = history
            yield "gen"
            yield "erated"
            yield final

    class Extractive:  # llm = none: the stream holds only the final answer
        def ask_stream(self, question, filters=None, history=None):
            self.history = history
            yield FakeAnswer("un deux trois quatre cinq six sept huit neuf")

    class AskOnly:
        def ask(self, question, filters=None, history=None):
            return FakeAnswer("quoted text")

    gen = Generative()
    assert list(answer_events(gen, "q", None, ["before"]))[:2] == ["gen", "erated"]
    assert list(accumulate(answer_events(gen, "q", None, [])))[-1] == ("generated", final)
    ex = Extractive()
    events = list(answer_events(ex, "q", None, ["before"]))
    assert len(events) > 2 and ex.history == ["before"]
    assert "".join(e for e in events if isinstance(e, str)) == events[-1].answer
    assert list(accumulate(answer_events(AskOnly(), "q", None, [])))[-1][0] == "quoted text"


# -- uploads ---------------------------------------------------------------------------------

def test_safe_name():
    assert safe_name("../../etc/passwd.TXT") == "passwd.txt"
    assert safe_name(".hidden.md") == "hidden.md"
    assert safe_name("a b<c>.jsonl") == "a b_c_.jsonl"
    assert safe_name("C:\\Users\\x\\note.html") == "note.html"


def test_store_uploads_accepts_listed_types_and_refuses_others(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    good = src / "a.md"
    good.write_text("# T\n\ntexte", encoding="utf-8")
    big = src / "big.txt"
    big.write_text("x" * 200, encoding="utf-8")
    pdf = src / "doc.pdf"
    pdf.write_bytes(b"%PDF")
    renamed = src / "rapport.txt"  # a PDF renamed .txt: refused by name, with the indexer's reason
    renamed.write_bytes(b"%PDF-1.7\n\x00\x01\x02 stream")
    page = src / "page.htm"
    page.write_text("<html><body><h1>Titre</h1><p>Un article de presse.</p></body></html>", encoding="utf-8")
    lib = tmp_path / "library"
    out = store_uploads([good, big, pdf, renamed, page], lib, max_bytes=100)
    assert out.stored == [lib / "a.md", lib / "page.htm"]
    assert (lib / "a.md").read_text(encoding="utf-8") == "# T\n\ntexte"
    reasons = {r["file"]: r["reason"] for r in out.rejected}
    assert "upload limit" in reasons["big.txt"] and "unsupported file type '.pdf'" in reasons["doc.pdf"]
    assert reasons["rapport.txt"].startswith("binary file, not text") and not (lib / "rapport.txt").exists()
    assert not good.exists() and not pdf.exists() and not renamed.exists()  # temporary uploads are consumed
    assert not list(lib.glob(".*"))


def test_upload_file_of(tmp_path):
    lib = tmp_path / "library"
    assert upload_file_of(str(lib / "a.txt"), lib) == lib / "a.txt"
    assert upload_file_of(str(tmp_path / "seeds" / "a.txt"), lib) is None
    assert upload_file_of(None, lib) is None


# -- launch options and import boundaries ----------------------------------------------------

def test_launch_options_are_safe_by_default(tmp_path):
    from ui.app import launch_options

    s = Settings(data_dir=tmp_path / "d", upload_max_bytes=1234)
    opts = launch_options(s)
    assert opts["server_name"] == "127.0.0.1" and opts["share"] is False and opts["auth"] is None
    assert opts["max_file_size"] == 1234 and opts["enable_monitoring"] is False
    data = (tmp_path / "d").resolve()  # all of the data dir but Gradio's temporary upload folder
    for name in ("records.sqlite", "records.sqlite-wal", "chroma", "keyword", "library", "index.lock"):
        assert str(data / name) in opts["blocked_paths"]
    assert not any("gradio-tmp" in p for p in opts["blocked_paths"])
    middleware = opts["app_kwargs"]["middleware"]  # the guard wraps the app Gradio builds
    assert [m.cls.__name__ for m in middleware] == ["Guard"]
    assert opts["ssr_mode"] is False and opts["mcp_server"] is False


def test_non_loopback_needs_auth(tmp_path):
    from ui.app import is_loopback, launch_options, parse_auth

    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")
    with pytest.raises(SettingsError, match="non-loopback"):
        launch_options(Settings(data_dir=tmp_path, host="0.0.0.0"))
    opts = launch_options(Settings(data_dir=tmp_path, host="0.0.0.0", auth="ana:s3cret:x"))
    assert opts["auth"] == ("ana", "s3cret:x")
    with pytest.raises(SettingsError, match="user:password"):
        parse_auth("nopassword")


def test_serve_refuses_public_bind_without_auth_before_loading_anything(tmp_path):
    from ui.app import serve

    with pytest.raises(SettingsError, match="non-loopback"):
        serve(Settings(data_dir=tmp_path / "d", host="0.0.0.0"))
    assert not (tmp_path / "d").exists()


def test_only_the_serve_command_imports_gradio():
    code = ("import sys, assistant, assistant.cli, assistant.pipeline, assistant.answer, assistant.settings\n"
            "assert 'gradio' not in sys.modules, 'assistant imported gradio'\n"
            "assert not any(m == 'ui' or m.startswith('ui.') for m in sys.modules)\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parent.parent)
    for path in (Path(__file__).resolve().parent.parent / "assistant").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "import gradio" not in text, path
        for line in text.splitlines():
            if re.match(r"\s*(from ui|import ui)\b", line):
                assert path.name == "cli.py" and line.startswith("    "), f"{path}: {line}"


def test_generative_answer_marks_unsupported_sentences_and_fallback_notice():
    from ui.render import answer_body_html

    cite = {"marker": 1, "doc_id": "d", "source_path": "/x", "title": "T", "date": None, "source": None,
            "quote": "q", "start": 0, "end": 1, "score": 1.0}
    answer = {"answer": "Poutine appelle à la reddition [1]. Il neige à Paris [1].", "abstained": False,
              "mode": "generative", "fallback": False, "fallback_reason": None, "language": "fr",
              "citations": [cite],
              "sentences": [{"text": "Poutine appelle à la reddition [1].", "markers": [1], "supported": True},
                            {"text": "Il neige à Paris [1].", "markers": [1], "supported": False}]}
    html_out = answer_body_html(answer, 0)
    assert html_out.count("dq-unsupported") == 1
    assert "non vérifiée" in html_out
    assert html_out.index("Poutine") < html_out.index("dq-unsupported")

    fallback = {**answer, "mode": "extractive", "fallback": True, "fallback_reason": "server unreachable",
                "sentences": []}
    html_out = answer_body_html(fallback, 0)
    assert "dq-notice" in html_out and "server unreachable" in html_out
    assert "dq-unsupported" not in html_out
