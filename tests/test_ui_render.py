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
    assert 'data-cite="1" data-turn="3" data-kind="citation"' in html
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
    panel = render.sources_html(abstention(), 0)
    assert "Passages liés — pas des citations" in panel and "dq-card-related" in panel
    assert "dq-card-citation" not in panel
    en = render.sources_html({**abstention(), "language": "en"}, 0)
    assert "Related passages — not cited" in en


def test_sources_cards_list_every_citation_with_metadata():
    a = answer(answer="x [1] y [2]", citations=[citation(1), citation(2, doc_id="d2.txt", source=None, date=None)])
    html = render.sources_html(a, 5)
    assert html.count("dq-card-citation") == 2
    assert 'data-cite="2" data-turn="5"' in html
    assert "2025-03-14 · AFP · d1.txt" in html and "non datée · agence non indiquée" in html
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
