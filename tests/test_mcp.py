"""The MCP server (`mcp_server`) of a real `dispatch-qa serve` on the seeds, driven by the `mcp` package's own
client (streamable HTTP + ClientSession); /mcp behind the chat's login and with the setting off, launched
in-process. Real model, Chroma, HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from conftest import SEED_DATED, make_settings, open_pipeline
from ui_fixtures import FOLLOW_UP, OFF_TOPIC_FR, REPO, SEED_QUESTION, free_port, private_copy, serve_process

from assistant.settings import Settings, SettingsError

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]

mcp = pytest.importorskip("mcp")
anyio = pytest.importorskip("anyio")
httpx2 = pytest.importorskip("httpx2")

from mcp.client.session import ClientSession  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402
from mcp.shared.exceptions import MCPError  # noqa: E402
from mcp_types.version import MODERN_PROTOCOL_VERSIONS  # noqa: E402

KEY = "mcp-key-0123456789"


@pytest.fixture(scope="module")
def server(seeds_settings, tmp_path_factory):
    """`dispatch-qa serve` with DISPATCH_QA_MCP_SERVER=1 and an api_key, on a private copy of the seeds index."""
    data = private_copy(seeds_settings, tmp_path_factory, "mcp-served")
    log = tmp_path_factory.mktemp("mcp-log") / "serve.log"
    yield from serve_process(data, log, DISPATCH_QA_API_KEY=KEY, DISPATCH_QA_MCP_SERVER="1")


def in_session(url: str, work, key: str = KEY):
    """`work(session)` in an initialised MCP client session on `url`/mcp, sending `key` as the bearer token
    (no Authorization header when empty)."""
    async def run():
        async with httpx2.AsyncClient(headers=_bearer(key), timeout=120) as http:
            async with streamable_http_client(url.rstrip("/") + "/mcp", http_client=http) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    return await work(session)
    return anyio.run(run)


def call(url: str, tool: str, arguments: dict):
    return in_session(url, lambda session: session.call_tool(tool, arguments))


def seed_text(doc_id: str) -> str:
    return (REPO / "seeds" / doc_id).read_text(encoding="utf-8")


def test_the_tools_are_listed_with_descriptions_and_arguments(server):
    tools = {t.name: t for t in in_session(server, lambda s: s.list_tools()).tools}
    assert set(tools) == {"ask", "search"}
    assert "quote" in tools["ask"].description and "passages" in tools["search"].description
    assert tools["ask"].input_schema["required"] == ["question"]
    assert {"date_from", "date_to", "sources", "history"} <= set(tools["ask"].input_schema["properties"])
    assert tools["search"].input_schema["properties"]["top_k"]["maximum"] == 20


def test_ask_returns_the_answer_with_markers_and_the_ask_json_citations(server):
    result = call(server, "ask", {"question": SEED_QUESTION})
    assert not result.is_error
    text = result.content[0].text
    answer = result.structured_content
    assert answer["schema_version"] == 1 and answer["question"] == SEED_QUESTION and not answer["abstained"]
    assert "[1]" in text.split("Sources :")[0] and "Poutine" in answer["answer"]
    assert answer["citations"]
    for c in answer["citations"]:  # the ask --json objects: exact quotes at document offsets
        assert seed_text(c["doc_id"])[c["start"]:c["end"]] == c["quote"]
        assert f"[{c['marker']}] " in text and " ".join(c["quote"].split()) in text


def test_ask_takes_filters_and_the_conversation(server):
    dated = call(server, "ask", {"question": SEED_QUESTION, "date_from": "2025-03", "date_to": "2025-03"})
    assert {c["doc_id"] for c in dated.structured_content["citations"]} == {SEED_DATED}
    follow = call(server, "ask", {"question": FOLLOW_UP, "history": [SEED_QUESTION]})
    assert follow.structured_content["follow_up_of"] == SEED_QUESTION
    assert "Kremlin" in " ".join(c["quote"] for c in follow.structured_content["citations"])


def test_an_abstention_is_an_answer_not_an_error(server):
    result = call(server, "ask", {"question": OFF_TOPIC_FR})
    assert not result.is_error and result.structured_content["abstained"]
    assert result.content[0].text == result.structured_content["answer"].strip() != ""
    assert result.structured_content["citations"] == []


def test_search_returns_passages_at_their_document_offsets(server):
    result = call(server, "search", {"query": "Koursk", "top_k": 3})
    passages = result.structured_content["passages"]
    assert not result.is_error and 1 <= len(passages) <= 3
    assert [p["score"] for p in passages] == sorted((p["score"] for p in passages), reverse=True)
    for p in passages:
        assert set(p) == {"doc_id", "title", "date", "source", "start", "end", "text", "score"}
        assert seed_text(p["doc_id"])[p["start"]:p["end"]] == p["text"]
        assert p["doc_id"] in result.content[0].text
    assert "Koursk" in passages[0]["text"]
    none = call(server, "search", {"query": "Koursk", "date_from": "2030"})
    assert none.structured_content["passages"] == [] and none.content[0].text == "No passage matches."


def test_a_client_of_the_newer_protocol_gets_the_same_tools(server):
    """mcp's high-level Client probes `server/discover` (the 2026 protocol) before the older handshake."""
    async def run():
        async with httpx2.AsyncClient(headers=_bearer(KEY), timeout=120) as http:
            async with mcp.Client(streamable_http_client(server + "/mcp", http_client=http)) as client:
                result = await client.call_tool("search", {"query": "Koursk", "top_k": 1})
                return client.protocol_version, result
    version, result = anyio.run(run)
    assert version in MODERN_PROTOCOL_VERSIONS
    assert not result.is_error and result.structured_content["passages"][0]["doc_id"] == SEED_DATED


@pytest.mark.parametrize(("tool", "arguments", "named"), [
    ("ask", {"question": SEED_QUESTION, "date_from": "2025-13"}, "date_from"),
    ("ask", {"question": SEED_QUESTION, "date_to": 2025}, "date_to"),
    ("ask", {"question": SEED_QUESTION, "sources": "AFP"}, "sources"),
    ("ask", {"date_from": "2025"}, "question"),
    ("search", {"query": "Koursk", "top_k": 0}, "top_k"),
    ("search", {"query": "Koursk", "top_k": 21}, "top_k"),
    ("search", {"query": "   "}, "query"),
])
def test_a_bad_argument_is_a_tool_error_naming_it(server, tool, arguments, named):
    result = call(server, tool, arguments)
    assert result.is_error and named in result.content[0].text
    assert result.structured_content is None


def test_a_missing_or_wrong_key_is_refused(server):
    for key in ("wrong-key", KEY[:-1], ""):
        with pytest.raises(BaseException) as caught:  # noqa: B017 - the client raises a group around MCPError
            in_session(server, lambda s: s.list_tools(), key=key)
        assert _holds(caught.value, MCPError)
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode()
        request = urllib.request.Request(server + "/mcp", data=body, method="POST", headers={
            **_bearer(key), "Content-Type": "application/json", "Accept": "application/json, text/event-stream"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 401 and refused.value.headers["WWW-Authenticate"] == "Bearer"
        assert "api_key" in json.loads(refused.value.read())["error"]


def test_the_chat_guard_screens_mcp_the_body_limit_applies_and_there_is_no_get_stream(server):
    for headers, status in (({"Host": "evil.example"}, 400), ({"Origin": "http://evil.example"}, 403)):
        request = urllib.request.Request(server + "/mcp", data=b"{}", method="POST", headers={
            "Authorization": f"Bearer {KEY}", "Content-Type": "application/json", **headers})
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=30)
        assert caught.value.code == status
    big = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "ask", "arguments": {"question": "x" * 300_000}}}).encode()
    request = urllib.request.Request(server + "/mcp", data=big, method="POST", headers={
        "Authorization": f"Bearer {KEY}", "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 413
    stream = urllib.request.Request(server + "/mcp", headers={"Authorization": f"Bearer {KEY}",
                                                              "Accept": "text/event-stream"})
    with pytest.raises(urllib.error.HTTPError) as caught:  # stateless: no GET stream held open
        urllib.request.urlopen(stream, timeout=30)
    assert caught.value.code == 405 and caught.value.headers["Allow"] == "POST"


def test_mcp_is_404_when_off_and_takes_its_key_behind_the_login(seeds_settings, embedder, tmp_path_factory):
    """In-process launches mounted as `serve` mounts them: off, /mcp does not exist; on behind the chat's
    login, /mcp answers its bearer token without the session cookie."""
    from ui import mcp_server, openai_api
    from ui.app import build_app, launch_options, queue

    data = private_copy(seeds_settings, tmp_path_factory, "mcp-inproc")
    for changes, expected in (({}, 404), ({"mcp_server": True, "auth": "reader:pw", "api_key": KEY}, 200)):
        settings = make_settings(data, port=free_port(), **changes)
        pipeline = open_pipeline(settings, embedder)
        demo = queue(build_app(pipeline, settings), settings)
        try:
            options = mcp_server.mount(openai_api.mount(launch_options(settings), pipeline, settings), pipeline,
                                       settings)
            demo.launch(prevent_thread_lock=True, quiet=True, **options)
            url = demo.local_url.rstrip("/")
            if expected == 404:
                for method in ("GET", "POST"):
                    request = urllib.request.Request(url + "/mcp", data=b"{}" if method == "POST" else None,
                                                     method=method, headers={"Content-Type": "application/json"})
                    with pytest.raises(urllib.error.HTTPError) as caught:
                        urllib.request.urlopen(request, timeout=30)
                    assert caught.value.code == 404
            else:
                result = in_session(url, lambda s: s.call_tool("search", {"query": "Koursk", "top_k": 1}))
                assert result.structured_content["passages"][0]["doc_id"]
        finally:
            demo.close()
            pipeline.close()


def test_the_setting_reads_env_and_flag_and_mount_leaves_options_alone_when_off():
    from assistant.settings import load_settings
    from ui.mcp_server import mount

    assert Settings().mcp_server is False
    assert load_settings(env={"DISPATCH_QA_MCP_SERVER": "true"}).mcp_server is True
    assert load_settings(cli={"mcp_server": False}, env={"DISPATCH_QA_MCP_SERVER": "1"}).mcp_server is False
    options = {"app_kwargs": {"routes": []}}
    assert mount(options, None, Settings()) is options


def test_serve_without_the_mcp_package_says_how_to_install_it(tmp_path):
    """`serve --mcp-server` where `mcp` cannot be imported: one line naming the extra, no traceback."""
    code = ("import sys; sys.modules['mcp'] = None; from assistant.cli import main; "
            f"sys.exit(main(['serve', '--mcp-server', '--no-seed', '--port', '{free_port()}', "
            f"'--data-dir', {str(tmp_path / 'data')!r}]))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_QA_")}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode != 0
    assert "pip install 'dispatch-qa[mcp]'" in result.stderr and "mcp_server" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_missing_package_check_names_the_extra(monkeypatch):
    import importlib.util

    from ui import mcp_server

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert mcp_server.missing_package_problem(Settings()) is None  # off: nothing to check
    problem = mcp_server.missing_package_problem(Settings(mcp_server=True))
    assert problem and "pip install 'dispatch-qa[mcp]'" in problem
    with pytest.raises(SettingsError, match=r"dispatch-qa\[mcp\]"):
        mcp_server.mount({}, None, Settings(mcp_server=True))


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


def _holds(error: BaseException, kind: type) -> bool:
    if isinstance(error, kind):
        return True
    return any(_holds(e, kind) for e in getattr(error, "exceptions", ()))
