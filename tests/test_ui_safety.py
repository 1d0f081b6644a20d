"""The UI as someone uninvited would try it: the login off loopback, `omnidex serve` refusing to serve unprotected,
foreign Host headers, errors that must not leak tracebacks or server paths, and hostile file names."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit import config as streamlit_config
from streamlit.testing.v1 import AppTest

from core.config import Settings
from omnidex.access import allowed_hosts, is_loopback, password_matches
from omnidex.service import Omnidex
from tests.conftest import write_pdf
from ui.errors import explanation
from ui.safety import literal

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
PASSWORD = "correct horse battery staple"
# Markdown, a link, HTML and a bare domain; no "/" (a file name cannot hold one)
HOSTILE_NAME = "**bold** [x](javascript:alert(1)) <img src=x onerror=alert(1)> www.evil.example.pdf"
LATIN1_TEXT = "The café serves buckwheat pancakes on Sundays."
HOSTILE_TEXT = "Tomatoes ripen in August. Bare links like http://evil.example/steal and www.evil.example stay text."


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of a PDF with a hostile name and a truncated one (indexed in part); returns the data directory."""
    root = tmp_path_factory.mktemp("ui-safety")
    write_pdf(root / "docs" / HOSTILE_NAME, [HOSTILE_TEXT])
    whole = write_pdf(root / "scratch.pdf", ["Page one: the copper mine opened in 1820. " * 10,
                                             "Page two: the salt works. " * 10,
                                             "Page three: the tin smelter. " * 10]).read_bytes()
    (root / "docs" / "cut.pdf").write_bytes(whole[: int(len(whole) * 0.4)])
    latin1 = write_pdf(root / "latin1.pdf", [LATIN1_TEXT])  # PyMuPDF cannot write to a name that is not UTF-8
    latin1.rename(os.fsdecode(os.fsencode(root / "docs") + b"/caf\xe9 menu.pdf"))
    app = Omnidex(Settings(data_dir=root / "data"))
    app.ingest([root / "docs"])
    app.close()
    return root / "data"


@pytest.fixture
def served_on(monkeypatch: pytest.MonkeyPatch, index: Path) -> Iterator[callable]:
    """Set the address the app believes it listens on (what `omnidex serve --address` passes to Streamlit)."""
    before = streamlit_config.get_option("server.address")
    monkeypatch.setenv("OMNIDEX_DATA_DIR", str(index))
    monkeypatch.delenv("OMNIDEX_UI_PASSWORD", raising=False)
    yield lambda address: streamlit_config.set_option("server.address", address)
    streamlit_config.set_option("server.address", before)


def opened() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def everything_shown(at: AppTest) -> str:
    """The text of every element on the page, for checks that nothing leaked."""
    kinds = ("markdown", "caption", "error", "warning", "info", "exception", "text", "code", "title")
    parts = [str(getattr(e, "value", "")) for kind in kinds for e in at.get(kind)]
    return "\n".join(parts + [b.label for b in at.button])


def sign_in(at: AppTest, password: str) -> AppTest:
    at.text_input(key="password").input(password)
    next(b for b in at.button if b.label == "Sign in").click().run()
    assert not at.exception, at.exception
    return at


# --- login -------------------------------------------------------------------------------


def test_off_loopback_without_a_password_the_ui_shows_nothing(served_on) -> None:
    served_on("0.0.0.0")
    at = opened()
    assert "no password is set" in at.error[0].value and "OMNIDEX_UI_PASSWORD" in at.error[0].value
    assert not at.text_input and not at.button  # no search box, no login to guess at


def test_off_loopback_the_password_is_asked_for_and_remembered(served_on, monkeypatch: pytest.MonkeyPatch) -> None:
    served_on("0.0.0.0")
    monkeypatch.setenv("OMNIDEX_UI_PASSWORD", PASSWORD)
    at = opened()
    assert [t.label for t in at.text_input] == ["Password"]

    started = time.perf_counter()
    sign_in(at, PASSWORD + "!")
    assert time.perf_counter() - started >= 1.0  # a wrong guess costs a second
    assert at.error[0].value == "That password is not the one this Omnidex was set up with. Check it and try again."
    assert [t.label for t in at.text_input] == ["Password"]

    sign_in(at, PASSWORD)
    assert [t.key for t in at.text_input] == ["query"]  # the search page
    at.switch_page("ui/library_page.py").run()
    assert not at.exception and at.metric and at.metric[0].label == "Searchable by words"  # the session stays signed in
    assert PASSWORD not in everything_shown(at)


def test_a_password_is_asked_for_on_loopback_too_when_one_is_set(served_on, monkeypatch: pytest.MonkeyPatch) -> None:
    served_on("127.0.0.1")
    monkeypatch.setenv("OMNIDEX_UI_PASSWORD", PASSWORD)
    at = opened()
    assert [t.label for t in at.text_input] == ["Password"]
    monkeypatch.delenv("OMNIDEX_UI_PASSWORD")
    assert [t.key for t in opened().text_input] == ["query"]  # loopback, no password: this machine's user


def test_addresses_and_passwords() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1") and is_loopback("[::1]")
    assert not any(is_loopback(a) for a in ("0.0.0.0", "::", "", None, "192.168.1.20", "omnidex.lan"))
    assert password_matches(PASSWORD, PASSWORD)
    assert not password_matches(PASSWORD[:-1], PASSWORD) and not password_matches("", "")
    assert allowed_hosts("127.0.0.1", []) == ["localhost", "127.0.0.1", "::1"]
    every = allowed_hosts("0.0.0.0", ["Search.Example.org"])
    assert socket.gethostname().lower() in every and "search.example.org" in every and "0.0.0.0" not in every


# --- omnidex serve -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIDEX_UI_")}
    return {**env, "OMNIDEX_DATA_DIR": str(data_dir), **extra}


def test_serve_refuses_to_listen_off_loopback_without_a_password(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "omnidex.cli", "serve", "--address", "0.0.0.0"], cwd=tmp_path,
                          env=_serve_env(tmp_path / "data"), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "no password is set" in done.stderr and "OMNIDEX_UI_PASSWORD=" in done.stderr
    assert not (tmp_path / "data").exists()  # nothing was started


def _upgrade_status(port: int, host: str) -> str:
    """The status line a websocket upgrade to Streamlit's stream gets with this Host header."""
    request = (f"GET /_stcore/stream HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Protocol: streamlit\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request.encode())
        return connection.recv(4096).decode(errors="replace").split("\r\n", 1)[0]


def test_served_ui_refuses_a_foreign_host_header(tmp_path: Path) -> None:
    """DNS rebinding: a page on evil.example that resolves its name to this server must not get a session."""
    port = _free_port()
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen([sys.executable, "-m", "omnidex.cli", "serve", "--address", "0.0.0.0", "--port",
                               str(port)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                              env=_serve_env(tmp_path / "data", OMNIDEX_UI_PASSWORD=PASSWORD))
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                assert time.monotonic() < deadline, "the UI did not start"
                time.sleep(0.3)
        assert " 101 " in _upgrade_status(port, "127.0.0.1") + " "
        assert " 101 " in _upgrade_status(port, socket.gethostname()) + " "
        refused = _upgrade_status(port, "evil.example")
        assert refused.startswith("HTTP/1.1 ") and " 101" not in refused, refused
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


# --- errors ------------------------------------------------------------------------------


def test_a_store_held_by_another_process_is_explained_without_traceback(served_on, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """While `omnidex ingest` (here: another process with the store open) holds the index, the UI says so."""
    data_dir = tmp_path / "data"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from core.config import Settings; "
         "from omnidex.service import Omnidex; app = Omnidex(Settings()); app.store; print('holding', flush=True); "
         "sys.stdin.read()"],
        cwd=ROOT, env=_serve_env(data_dir), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        served_on("127.0.0.1")
        monkeypatch.setenv("OMNIDEX_DATA_DIR", str(data_dir))
        for page in ("ui/search_page.py", "ui/library_page.py", "ui/ask_page.py"):
            at = AppTest.from_file(APP, default_timeout=120)
            at.run()
            at.switch_page(page).run()
            assert not at.exception
            assert at.error[0].value.startswith("The index is in use by another Omnidex program on the server")
            shown = everything_shown(at)
            assert "Traceback" not in shown and str(data_dir) not in shown and str(ROOT) not in shown
            assert "/" not in shown.replace("/_stcore", "")  # no path of any kind
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    at.run()  # the other process is gone: the same session now gets the page
    assert not at.exception and not at.error


def test_an_index_from_other_models_is_explained(served_on, monkeypatch: pytest.MonkeyPatch, index: Path,
                                                 tmp_path: Path) -> None:
    copy = shutil.copytree(index, tmp_path / "data")  # this process already has the index itself open
    served_on("127.0.0.1")
    monkeypatch.setenv("OMNIDEX_DATA_DIR", str(copy))
    monkeypatch.setenv("OMNIDEX_TEXT_MODEL", "all-minilm-l6-v2")
    at = opened()
    message = at.error[0].value
    assert message.startswith("The index was built with other models") and "`omnidex reindex`" in message
    assert str(copy) not in everything_shown(at)


def test_a_damaged_catalog_is_explained(served_on, monkeypatch: pytest.MonkeyPatch, index: Path,
                                        tmp_path: Path) -> None:
    copy = shutil.copytree(index, tmp_path / "data")
    (copy / "catalog.sqlite").write_bytes(b"this is not a database" * 100)
    for leftover in ("catalog.sqlite-wal", "catalog.sqlite-shm"):
        (copy / leftover).unlink(missing_ok=True)
    served_on("127.0.0.1")
    monkeypatch.setenv("OMNIDEX_DATA_DIR", str(copy))
    at = opened()
    assert at.error[0].value.startswith("The index's catalog on the server is damaged. Run `omnidex check --repair`")
    assert str(copy) not in everything_shown(at) and "Traceback" not in everything_shown(at)


def test_bad_input_and_unknown_errors_are_sentences_without_paths() -> None:
    bad = explanation(ValueError(f"limit must be between 1 and 1000 (config {ROOT / 'omnidex.toml'})"))
    assert "limit must be between 1 and 1000" in bad.replace("\\", "") and str(ROOT) not in bad.replace("\\", "")
    unknown = explanation(FileNotFoundError(2, "No such file", str(ROOT / "secret.key")))
    assert "FileNotFoundError" in unknown and "secret" not in unknown and "log" in unknown


# --- what files are called -------------------------------------------------------------------


def test_a_hostile_file_name_is_shown_as_written(served_on) -> None:
    served_on("127.0.0.1")
    at = opened()
    at.text_input(key="query").input("when do tomatoes ripen").run()
    assert not at.exception
    titles = [m.value for m in at.markdown if "-badge[" in m.value]
    assert titles and all(t.startswith(f"**{literal(HOSTILE_NAME)}** · page 1") for t in titles)
    assert literal(HOSTILE_NAME) == f"`{HOSTILE_NAME}`"  # a code span: nothing inside it is Markdown
    snippet = next(m.value for m in at.markdown if "ripen" in m.value and "-badge[" not in m.value)
    assert snippet.startswith("<div>") and "http://evil.example/steal" in snippet  # inside an HTML block: no link

    at.switch_page("ui/ask_page.py").run()
    at.text_input(key="question").input("When do tomatoes ripen?").run()
    assert not at.exception
    cite = next(b for b in at.button if b.label.startswith("[1]"))
    assert cite.label == f"[1] {literal(HOSTILE_NAME + ' · page 1')}"


def test_the_library_lists_files_indexed_only_in_part(served_on) -> None:
    served_on("127.0.0.1")
    at = opened()
    at.switch_page("ui/library_page.py").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Searchable fully"] == "3" and metrics["Indexed in part"] == "1"
    assert any(s.value == "Files indexed only in part (1)" for s in at.subheader)
    (partial,) = [d.value for d in at.dataframe if "left out" in d.value.columns]
    assert list(partial["file"]) == ["cut.pdf"]
    assert partial["left out"][0] == "1 of 3 pages read: the file is truncated or damaged (pages 2-3 lost)"


def test_a_file_name_that_is_not_utf8_is_shown_and_previewed(served_on) -> None:
    served_on("127.0.0.1")
    at = opened()
    at.text_input(key="query").input("buckwheat pancakes").run()
    assert not at.exception
    titles = [m.value for m in at.markdown if "-badge[" in m.value]
    assert titles[0].startswith("**`caf\ufffd menu.pdf`** · page 1")
    assert not at.warning  # the preview found the file by its bytes
    assert any("buckwheat" in t.value for t in at.text) and at.get("image")
    at.switch_page("ui/library_page.py").run()
    assert not at.exception
