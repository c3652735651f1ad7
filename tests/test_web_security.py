"""The web chat's front door, attacked with raw HTTP against a really served app (ui/guard.py).

DNS rebinding (a foreign Host and Origin), cross-site requests, hidden events called by name or by
fn_index, Gradio's raw upload route, `file=` paths, /ask arguments of the wrong type or size, and
the login on every raw route. Real model, real Chroma, real Gradio server, httpx on the wire.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import httpx
import pytest
from conftest import make_settings, open_pipeline
from ui_fixtures import REPO, SEED_QUESTION, article, launch_in_thread, private_copy

from ui import guard

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]

PROXY_NAME = "qa.example.org"  # allowed_hosts in the served app
EVIL = "rebind.evil.example"
PUBLIC = {"ask", "index_status", "documents"}
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Length 44 >>\nstream\n\x00\x01\x02\x89PNG\x00\x00\nendstream\n"


def client(url: str, **headers: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=120, headers=headers)


def fn_indexes(url: str, **headers: str) -> dict[str, int]:
    with client(url, **headers) as c:
        return {d["api_name"]: d["id"] for d in c.get("/config").json()["dependencies"]}


def join(c: httpx.Client, fn_index: int, data: list) -> tuple[int, dict | None]:
    """What the page does for an event: queue/join by fn_index, then read the session's SSE stream."""
    session = uuid.uuid4().hex[:10]
    joined = c.post("/gradio_api/queue/join", json={"data": data, "fn_index": fn_index, "session_hash": session,
                                                    "event_data": None, "trigger_id": None})
    if joined.status_code != 200:
        return joined.status_code, None
    deadline = time.monotonic() + 300  # a guard against a hung stream, not a timing assertion
    with c.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") in ("process_completed", "unexpected_error", "close_stream"):
                    return 200, message.get("output") or message
            if time.monotonic() > deadline:
                break
    return 200, None


def upload(c: httpx.Client, *files: tuple[str, bytes]) -> httpx.Response:
    return c.post("/gradio_api/upload", files=[("files", f) for f in files])


def file_data(path: str, name: str) -> dict:
    return {"path": path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}


def stored_files(temp: Path) -> list[Path]:
    return sorted(p for p in temp.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def served(tmp_path_factory, seeds_settings, embedder):
    settings = make_settings(private_copy(seeds_settings, tmp_path_factory, "websec"), allowed_hosts=(PROXY_NAME,))
    pipeline = open_pipeline(settings, embedder)
    demo, url = launch_in_thread(pipeline, settings)
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    yield {"url": url, "port": port, "settings": settings, "pipeline": pipeline,
           "temp": guard.temp_dir(settings.replace(port=port)), "origin": url.rstrip("/")}
    demo.close()
    pipeline.close()


# -- Host and Origin -------------------------------------------------------------------------------

def test_a_foreign_host_is_refused_before_gradio(served):
    """DNS rebinding: evil.example resolves to 127.0.0.1, so the browser sends its own name as Host."""
    port = served["port"]
    rebound = {"Host": f"{EVIL}:{port}", "Origin": f"http://{EVIL}:{port}"}
    with client(served["url"], **rebound) as c:
        assert c.post("/gradio_api/run/documents", json={"data": []}).status_code == 400
        assert c.get("/config").status_code == 400
        assert c.get("/").status_code == 400
        assert upload(c, ("a.txt", b"bonjour")).status_code == 400
        status, _ = join(c, 0, [])
        assert status == 400
    with client(served["url"], Host=EVIL) as c:  # no Origin at all: the Host alone decides
        response = c.post("/gradio_api/run/documents", json={"data": []})
        assert response.status_code == 400 and "doc_id" not in response.text


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:{port}", "localhost", "LOCALHOST:{port}", "[::1]:{port}",
                                  "[::1]", PROXY_NAME, f"{PROXY_NAME}:443"])
def test_loopback_names_and_allowed_hosts_are_served(served, host):
    with client(served["url"], Host=host.format(port=served["port"])) as c:
        response = c.post("/gradio_api/run/documents", json={"data": []})
    assert response.status_code == 200 and len(response.json()["data"][0]) >= 2


@pytest.mark.parametrize("host", ["127.0.0.1.rebind.evil.example", "localhost.evil.example:{port}",
                                  f"{PROXY_NAME}.evil.example", "evil.example@127.0.0.1", "", "0x7f000001"])
def test_names_that_merely_look_local_are_refused(served, host):
    with client(served["url"], Host=host.format(port=served["port"])) as c:
        assert c.get("/gradio_api/info").status_code == 400


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:1",
                                    "http://localhost:{port}", "file://", "http://127.0.0.1:{port}.evil.example"])
def test_a_foreign_origin_is_refused(served, origin):
    """CSRF from another site (or another local port, or a sandboxed frame) on every kind of route."""
    with client(served["url"], Origin=origin.format(port=served["port"])) as c:
        assert c.post("/gradio_api/run/documents", json={"data": []}).status_code == 403
        assert upload(c, ("a.txt", b"bonjour")).status_code == 403
        assert join(c, 0, [])[0] == 403
        assert c.get("/config").status_code == 403  # cross-origin reads too: Gradio would echo the Origin


def test_same_origin_and_a_trusted_proxy_origin_are_accepted(served):
    with client(served["url"], Origin=served["origin"]) as c:
        assert c.post("/gradio_api/run/index_status", json={"data": []}).status_code == 200
    with client(served["url"], Origin=f"https://{PROXY_NAME}") as c:  # TLS proxy forwarding Host 127.0.0.1:port
        assert c.post("/gradio_api/run/index_status", json={"data": []}).status_code == 200


def test_cross_site_subresources_are_refused_but_navigation_is_not(served):
    with client(served["url"], **{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}) as c:
        assert c.get("/config").status_code == 403  # e.g. <img src> / <script src> from another site
    with client(served["url"], **{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}) as c:
        assert c.get("/").status_code == 200  # following a link to the chat is fine


# -- events by name and by fn_index ------------------------------------------------------------------

def test_only_the_public_endpoints_can_be_called_by_name(served):
    names = fn_indexes(served["url"])
    hidden = set(names) - PUBLIC
    assert PUBLIC <= set(names) and {"on_delete", "on_upload", "on_reindex", "respond"} <= hidden
    with client(served["url"]) as c:
        for name in sorted(hidden):
            for route in (f"/gradio_api/run/{name}", f"/gradio_api/api/{name}", f"/gradio_api/call/{name}",
                          f"/gradio_api/call/v2/{name}"):
                response = c.post(route, json={"data": ["x", ""]})
                assert response.status_code == 404, (route, response.text[:200])
        assert c.post("/gradio_api/run/index_status", json={"data": []}).status_code == 200
        assert c.post("/gradio_api/call/documents", json={"data": []}).status_code == 200


def test_a_rebinding_page_cannot_delete_an_upload_through_fn_index(served):
    """The reported hole: the hidden delete event, joined by fn_index from a rebound page, deleted an
    uploaded dispatch and its file. Now refused; the same request from the page itself still works."""
    library = served["settings"].library_dir
    target = article(library / "cible.txt", "Une dépêche à protéger",
                     "Le conseil municipal de Brest a voté un budget de 12 millions d'euros pour le port.")
    served["pipeline"].index([library])
    delete = fn_indexes(served["url"])["on_delete"]
    port = served["port"]
    attacks = [{"Host": f"{EVIL}:{port}", "Origin": f"http://{EVIL}:{port}"}, {"Origin": "http://evil.example"},
               {"Origin": "null"}]
    for headers in attacks:
        with client(served["url"], **headers) as c:
            assert join(c, delete, ["cible.txt", "", "en"])[0] in (400, 403), headers
    assert target.exists()
    assert "cible.txt" in {d["doc_id"] for d in served["pipeline"].documents()}

    # The page's own origin passes the guard, but the dispatch to delete is the session's selection
    # (a server-side State set by a click in the table), never an id in the payload: nothing is deleted.
    with client(served["url"], Origin=served["origin"]) as c:
        status, output = join(c, delete, ["cible.txt", "", "en"])
    assert status == 200 and "Select a dispatch in the table first" in output["data"][1]
    assert target.exists()


# -- the upload route, the temporary folder and file= ------------------------------------------------

def test_the_temporary_upload_folder_is_under_the_data_dir(served):
    assert os.environ["GRADIO_TEMP_DIR"] == str(served["temp"])
    assert served["temp"].is_dir()


@pytest.mark.parametrize("name", ["evil.exe", "evil.EXE", "notes.txt.exe", "x.txt/../evil.exe", "no-extension",
                                  "page.svg", "script.js", "a.pdf"])
def test_the_upload_route_refuses_other_types_before_storing(served, name):
    before = stored_files(served["temp"])
    with client(served["url"]) as c:
        response = upload(c, (name, b"MZ\x90\x00 not a dispatch"))
        assert response.status_code == 415 and "unsupported file type" in response.text
        mixed = upload(c, ("ok.txt", b"Bonjour."), (name, b"MZ\x90\x00"))  # one bad file refuses the request
        assert mixed.status_code == 415
    assert stored_files(served["temp"]) == before


def test_accepted_types_are_stored_in_the_temp_folder_and_served_back_only_from_there(served):
    with client(served["url"]) as c:
        response = upload(c, ("depeche.txt", b"Bonjour de Brest."), ("page.htm", b"<p>Bonjour</p>"))
        assert response.status_code == 200
        paths = [Path(p) for p in response.json()]
        assert all(p.is_relative_to(served["temp"]) and p.is_file() for p in paths)
        assert c.get(f"/gradio_api/file={paths[0]}").content == b"Bonjour de Brest."

        data = served["settings"].data_dir.resolve()
        (data / "library").mkdir(exist_ok=True)
        secret = data / "library" / "secret.txt"
        secret.write_text("secret", encoding="utf-8")
        link = served["temp"] / "link.txt"
        link.symlink_to(data / "records.sqlite")
        for target in (data / "records.sqlite", secret, REPO / "pyproject.toml", Path("/etc/passwd"), link,
                       f"{served['temp']}/../records.sqlite", "https://example.com/x.txt", "records.sqlite"):
            for route in ("/gradio_api/file=", "/gradio_api/file/"):
                response = c.get(f"{route}{target}")
                assert response.status_code in (403, 404), (route, target)
                assert b"SQLite" not in response.content and b"secret" not in response.content
        assert c.get("/gradio_api/proxy=https://example.com/").status_code == 403
        link.unlink()


def test_an_upload_through_the_page_leaves_no_temporary_copy(served):
    names = fn_indexes(served["url"])
    with client(served["url"], Origin=served["origin"]) as c:
        stored = upload(c, ("phare.txt", "Le phare du Créac'h a été repeint en 2024, annonce la mairie d'Ouessant."
                                         .encode())).json()[0]
        status, output = join(c, names["on_upload"], [[file_data(stored, "phare.txt")], "", "en", []])
    assert status == 200 and "phare.txt" in output["data"][0]
    assert not Path(stored).exists() and not Path(stored).parent.exists()
    assert (served["settings"].library_dir / "phare.txt").is_file()


def test_a_binary_file_with_a_text_extension_is_refused_by_name(served):
    names = fn_indexes(served["url"])
    with client(served["url"], Origin=served["origin"]) as c:
        stored = upload(c, ("rapport.txt", PDF)).json()[0]
        status, output = join(c, names["on_upload"], [[file_data(stored, "rapport.txt")], "", "en", []])
    summary = output["data"][0]
    assert status == 200 and "rapport.txt" in summary and "binary" in summary
    assert not (served["settings"].library_dir / "rapport.txt").exists()  # never stored in the library
    assert not Path(stored).exists()


# -- /ask arguments ------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    ([123, "", "", None, None], "The question must be text. / La question doit être du texte."),
    ([None, "", "", None, None], "La question doit être du texte."),
    (["Que dit Poutine ?", "", "", [None, 1, {}], None], "sources doit être une liste"),
    (["Que dit Poutine ?", "", "", ["AFP"] * 100_000, None], "Trop de sources : 100000, au plus 50."),
    (["What did Putin say?", "", "", ["AFP"] * 100_000, None], "Too many sources: 100000, at most 50."),
    (["What did Putin say?", "", "", "AFP", None], "sources must be a list"),
    (["Que dit Poutine ?" * 200, "", "", None, None], "La question est trop longue"),
    (["What did Putin say?", "", "", None, ["x"] * 1000], "The history is too long: 1000 questions"),
    (["What did Putin say?", "", "", None, [1, 2]], "history must be a list of earlier questions"),
    (["What did Putin say?", 2025, "", None, None], "date_from must be text"),
])
def test_ask_checks_argument_types_and_sizes(served, args, message):
    with client(served["url"]) as c:
        response = c.post("/gradio_api/run/ask", json={"data": args})
    assert response.status_code == 500 and message in response.json()["error"]  # gradio_client: AppError(message)


def test_ask_with_valid_arguments_still_answers(served):
    with client(served["url"]) as c:
        response = c.post("/gradio_api/run/ask", json={"data": [SEED_QUESTION, "", "", ["AFP"] * 50, [SEED_QUESTION]]})
    assert response.status_code == 200 and response.json()["data"][0]["schema_version"] == 1


# -- with a login: every raw route ---------------------------------------------------------------------
# (last in the module: this second app takes over GRADIO_TEMP_DIR, so no upload event runs after it)

@pytest.fixture(scope="module")
def with_login(tmp_path_factory, seeds_settings, embedder):
    settings = make_settings(private_copy(seeds_settings, tmp_path_factory, "websec-login"), auth="ana:s3cret")
    pipeline = open_pipeline(settings, embedder)
    demo, url = launch_in_thread(pipeline, settings)
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    yield {"url": url, "settings": settings, "temp": guard.temp_dir(settings.replace(port=port))}
    demo.close()
    pipeline.close()


RAW_ROUTES = [("GET", "/config"), ("GET", "/gradio_api/info"), ("GET", "/gradio_api/openapi.json"),
              ("POST", "/gradio_api/run/documents"), ("POST", "/gradio_api/call/documents"),
              ("POST", "/gradio_api/queue/join"), ("GET", "/gradio_api/queue/data?session_hash=x"),
              ("GET", "/gradio_api/queue/status"), ("GET", "/gradio_api/heartbeat/x"), ("POST", "/gradio_api/reset"),
              ("POST", "/gradio_api/cancel"), ("POST", "/gradio_api/stream/x"), ("GET", "/gradio_api/app_id"),
              ("GET", "/gradio_api/upload_progress?upload_id=x"), ("POST", "/gradio_api/component_server"),
              ("GET", "/gradio_api/file={temp}/x.txt"), ("GET", "/gradio_api/user"), ("GET", "/gradio_api/token")]


def test_login_is_enforced_on_every_raw_route(with_login):
    before = stored_files(with_login["temp"])
    with client(with_login["url"]) as c:
        for method, route in RAW_ROUTES:  # status only: some of these are endless event streams
            with c.stream(method, route.format(temp=with_login["temp"]), json={"data": []}) as response:
                assert response.status_code == 401, (method, route, response.status_code)
        assert upload(c, ("a.txt", b"bonjour")).status_code == 401
        assert c.get("/").status_code == 200  # the login page and its assets
    assert stored_files(with_login["temp"]) == before


def test_after_login_the_api_answers_and_the_guard_still_applies(with_login):
    with client(with_login["url"]) as c:
        assert c.post("/login", data={"username": "ana", "password": "wrong"}).status_code == 400
        assert c.post("/login", data={"username": "ana", "password": "s3cret"}).status_code == 200
        assert c.post("/gradio_api/run/index_status", json={"data": []}).json()["data"][0]["documents"] == 2
        assert c.post("/gradio_api/run/on_reindex", json={"data": [""]}).status_code == 404
        assert upload(c, ("evil.exe", b"MZ")).status_code == 415
        assert c.get("/config", headers={"Host": EVIL}).status_code == 400
        assert c.get("/config", headers={"Origin": "http://evil.example"}).status_code == 403
