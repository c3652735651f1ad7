"""The HTML loader on French news pages with the usual furniture around the article."""

import socket
import subprocess
import sys

import pytest
from conftest import REPO, subprocess_env

from index.documents import load_file
from index.formats import html as html_format

BODY = [
    "MARSEILLE (AFP) - Le conseil municipal de Marseille a adopté jeudi soir un plan de rénovation de "
    "cent quatre écoles du centre-ville, après des mois de débats sur son financement.",
    "Le projet, estimé à un milliard deux cents millions d'euros sur dix ans, sera financé pour moitié "
    "par l'État, a précisé le maire devant les élus réunis à l'hôtel de ville.",
    "« Nos enfants ne peuvent plus attendre », a déclaré l'adjointe chargée de l'éducation, rappelant "
    "que plusieurs établissements avaient dû fermer des classes l'hiver dernier faute de chauffage.",
    "Les premiers chantiers doivent commencer à la rentrée prochaine dans les quartiers nord, où les "
    "bâtiments sont les plus dégradés selon un rapport de la chambre régionale des comptes.",
]

PAGE = f"""<!doctype html>
<html lang="fr"><head>
<meta charset="utf-8">
<title>Marseille : un plan pour les écoles | La Gazette du Sud</title>
<meta property="og:site_name" content="La Gazette du Sud">
<meta property="article:published_time" content="2025-03-13T21:40:00+01:00">
<script>window.dataLayer = [{{"page": "article"}}];</script>
</head>
<body>
<div id="cookieBanner" class="cookie-consent">
  <p>Nous utilisons des cookies pour mesurer l'audience. <button>Tout accepter</button> <a href="#">Paramétrer</a></p>
</div>
<header class="site-header"><a href="/">La Gazette du Sud</a>
  <nav class="mainMenu"><ul><li><a href="/politique">Politique</a></li><li><a href="/economie">Économie</a></li>
  <li><a href="/sport">Sport</a></li><li><a href="/culture">Culture</a></li></ul></nav>
</header>
<div class="breadcrumb"><a href="/">Accueil</a> &gt; <a href="/regions">Régions</a></div>
<main>
<article>
  <h1>Marseille adopte un plan de rénovation de ses écoles</h1>
  <p class="byline">Par la rédaction, publié le <time datetime="2025-03-13">13 mars 2025</time></p>
  <ul class="share-buttons"><li><a href="#">Partager sur Facebook</a></li><li><a href="#">Partager sur X</a></li>
  <li><a href="#">Envoyer par courriel</a></li></ul>
  {"".join(f"<p>{p}</p>" for p in BODY)}
  <div class="newsletter-signup"><p>Recevez chaque matin notre lettre d'information gratuite.</p></div>
</article>
<section class="related-articles"><h2>À lire aussi</h2><ul>
  <li><a href="/a">Lyon : la métropole renonce au tramway des pentes</a></li>
  <li><a href="/b">Nice : le budget des cantines scolaires en hausse</a></li>
  <li><a href="/c">Toulon : grève des agents territoriaux mardi</a></li></ul></section>
<section id="comments"><h2>Commentaires</h2>
  <div class="comment"><p>Jean-Pierre13 : Il était temps, l'école de mon fils tombe en ruine.</p></div>
  <div class="comment"><p>Marie_B : Encore des promesses, on verra dans dix ans.</p></div></section>
</main>
<footer><p>© La Gazette du Sud 2025 - Mentions légales - Contact</p></footer>
</body></html>
"""

BOILERPLATE = ["cookies", "Tout accepter", "Politique", "Économie", "Accueil", "Partager", "courriel",
               "lettre d'information", "À lire aussi", "tramway", "cantines", "Toulon", "Commentaires",
               "Jean-Pierre13", "promesses", "Mentions légales", "dataLayer"]


def _load(tmp_path, html, name="page.html"):
    path = tmp_path / name
    path.write_text(html, encoding="utf-8")
    result = load_file(path, tmp_path, 10 * 1024 * 1024)
    assert result.errors == []
    (dispatch,) = result.dispatches
    return dispatch


def test_french_article_body_is_kept_and_the_page_furniture_is_not(tmp_path):
    d = _load(tmp_path, PAGE)
    assert d.text.split("\n\n") == BODY
    for words in BOILERPLATE:
        assert words not in d.text, words
    assert d.title == "Marseille adopte un plan de rénovation de ses écoles"
    assert d.date == "2025-03-13"
    assert d.source == "AFP"  # the dateline; the site's name is no agency
    assert d.language == "fr"


def test_htm_suffix_loads_the_same(tmp_path):
    assert _load(tmp_path, PAGE, "page.htm").text == _load(tmp_path, PAGE).text


def test_without_trafilatura_text_the_projects_own_extraction_is_used(tmp_path, monkeypatch):
    monkeypatch.setattr(html_format, "article_paragraphs", lambda html: [])
    d = _load(tmp_path, PAGE)
    assert d.text.split("\n\n")[-len(BODY):] == BODY
    for words in ["cookies", "Politique", "Partager", "tramway", "Jean-Pierre13", "Mentions légales"]:
        assert words not in d.text, words


def test_line_breaks_inside_a_paragraph_stay_one_paragraph(tmp_path):
    page = PAGE.replace("a adopté jeudi soir", "a adopté<br>jeudi soir")
    assert _load(tmp_path, page).text.split("\n\n") == BODY


def test_loading_html_opens_no_connection(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the HTML loader tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    page = PAGE.replace("<head>", '<head><link rel="canonical" href="https://example.org/a">'
                                   '<base href="https://example.org/">')
    assert _load(tmp_path, page).text.split("\n\n") == BODY


def test_importing_the_loaders_does_not_import_trafilatura():
    probe = ("import sys, index.documents, index.formats, index.loader; "
             "print(sorted(m for m in ('trafilatura', 'lxml', 'bs4') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO,
                         env=subprocess_env(), timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("furniture", ['<nav class="menu"><p>Menu</p></nav>', "<header><p>Le Journal</p></header>"])
def test_a_page_of_only_furniture_has_no_article(tmp_path, furniture):
    path = tmp_path / "page.html"
    path.write_text(f"<html><body>{furniture}<script>x()</script></body></html>", encoding="utf-8")
    result = load_file(path, tmp_path, 1_000_000)
    assert [e.reason for e in result.errors] == ["no article text found in the HTML"]
