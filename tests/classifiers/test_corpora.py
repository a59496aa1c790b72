"""classifiers.corpora: local copy, cache, download (from a server on 127.0.0.1 only), errors."""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from classifiers.corpora import (CORPORA, CorpusChecksumError, CorpusError, CorpusUnavailable,
                                 convert_davidson, corpus_path, sha256_of)
from tagwatch.config import Settings

DAVIDSON = CORPORA["davidson"]
SHARED = Path(os.environ["TAGWATCH_CORPORA_DIR"]) if os.environ.get("TAGWATCH_CORPORA_DIR") else None
needs_shared = pytest.mark.skipif(
    SHARED is None or not (SHARED / "davidson" / DAVIDSON.original_file).is_file(),
    reason="set TAGWATCH_CORPORA_DIR to the shared corpora (the Makefile does) to run this",
)
ORIGINAL_HEADER = ",count,hate_speech,offensive_language,neither,class,tweet\n"


def make_settings(tmp_path: Path, corpora_dir: Path | None) -> Settings:
    return dataclasses.replace(Settings.from_env(), cache_dir=tmp_path / "cache",
                               corpora_dir=corpora_dir)


class FileServer:
    """Serves one body at any path on 127.0.0.1 and records each request's User-Agent."""

    def __init__(self, body: bytes):
        self.body = body
        self.user_agents: list[str] = []
        served = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                served.user_agents.append(self.headers.get("User-Agent", ""))
                self.send_response(200)
                self.send_header("Content-Length", str(len(served.body)))
                self.end_headers()
                self.wfile.write(served.body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/labeled_data.csv"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def files_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()] if path.exists() else []


def test_unknown_corpus_lists_the_known_ones(tmp_path):
    with pytest.raises(ValueError, match="known corpora: davidson"):
        corpus_path("nope", make_settings(tmp_path, None))


def test_offline_and_missing_says_where_to_put_it(tmp_path):
    with pytest.raises(CorpusUnavailable) as info:
        corpus_path("davidson", make_settings(tmp_path, None), allow_download=False)
    message = str(info.value)
    assert "TAGWATCH_CORPORA_DIR" in message
    assert DAVIDSON.url in message


def test_a_converted_copy_in_the_corpora_dir_is_used_as_it_is(tmp_path):
    converted = tmp_path / "corpora" / "davidson" / DAVIDSON.converted_file
    converted.parent.mkdir(parents=True)
    converted.write_text('"text","label"\n"hello",0\n')
    settings = make_settings(tmp_path, tmp_path / "corpora")
    assert corpus_path("davidson", settings, allow_download=False) == converted


def test_an_original_with_the_wrong_checksum_is_refused(tmp_path):
    original = tmp_path / "corpora" / "davidson" / DAVIDSON.original_file
    original.parent.mkdir(parents=True)
    original.write_text(ORIGINAL_HEADER + '0,3,0,0,3,2,"hello"\n')
    settings = make_settings(tmp_path, tmp_path / "corpora")
    with pytest.raises(CorpusChecksumError, match="sha256"):
        corpus_path("davidson", settings, allow_download=False)
    assert files_under(tmp_path / "cache") == []


def test_a_cached_copy_is_used_offline(tmp_path):
    cached = tmp_path / "cache" / "corpora" / "davidson" / DAVIDSON.converted_file
    cached.parent.mkdir(parents=True)
    cached.write_text('"text","label"\n"hello",0\n')
    assert corpus_path("davidson", make_settings(tmp_path, None), allow_download=False) == cached


@needs_shared
def test_the_shared_original_is_checked_and_converted_into_the_cache(tmp_path):
    shared_original = SHARED / "davidson" / DAVIDSON.original_file
    local = tmp_path / "corpora" / "davidson"
    local.mkdir(parents=True)
    (local / DAVIDSON.original_file).symlink_to(shared_original)
    path = corpus_path("davidson", make_settings(tmp_path, tmp_path / "corpora"),
                       allow_download=False)
    assert path.parent == tmp_path / "cache" / "corpora" / "davidson"
    # Our conversion reproduces the shared converted copy byte for byte.
    assert sha256_of(path) == sha256_of(SHARED / "davidson" / DAVIDSON.converted_file)


@needs_shared
def test_download_is_checked_converted_and_cached(tmp_path):
    settings = make_settings(tmp_path, None)
    body = (SHARED / "davidson" / DAVIDSON.original_file).read_bytes()
    with FileServer(body) as server:
        path = corpus_path("davidson", settings, url=server.url)
        again = corpus_path("davidson", settings, url=server.url)
    assert path == again
    assert len(server.user_agents) == 1  # the second call used the cache
    assert server.user_agents[0] == settings.user_agent
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 24_783
    assert sum(r["label"] == "1" for r in rows) == 20_620
    assert files_under(tmp_path / "cache") == [path]  # the raw download is not kept


def test_download_with_the_wrong_checksum_caches_nothing(tmp_path):
    settings = make_settings(tmp_path, None)
    with FileServer(b"not the corpus") as server:
        with pytest.raises(CorpusChecksumError, match=hashlib.sha256(b"not the corpus").hexdigest()):
            corpus_path("davidson", settings, url=server.url)
    assert files_under(tmp_path / "cache") == []


def test_download_failure_is_reported_as_unavailable(tmp_path):
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(CorpusUnavailable, match="download failed"):
        corpus_path("davidson", make_settings(tmp_path, None),
                    url=f"http://127.0.0.1:{port}/labeled_data.csv")
    assert files_under(tmp_path / "cache") == []


def test_convert_davidson_maps_classes_to_labels(tmp_path):
    original = tmp_path / "labeled_data.csv"
    original.write_text(ORIGINAL_HEADER + '0,3,3,0,0,0,"hate"\n1,3,0,3,0,1,"offensive"\n'
                        '2,3,0,0,3,2,"neither, with a comma"\n')
    out = tmp_path / "out.csv"
    assert convert_davidson(original, out) == 3
    assert out.read_text() == ('"text","label"\n"hate",1\n"offensive",1\n'
                               '"neither, with a comma",0\n')


def test_convert_davidson_refuses_an_unknown_class(tmp_path):
    original = tmp_path / "labeled_data.csv"
    original.write_text(ORIGINAL_HEADER + '0,3,0,0,3,7,"hello"\n')
    with pytest.raises(CorpusError, match="line 2"):
        convert_davidson(original, tmp_path / "out.csv")


def test_convert_davidson_refuses_other_columns(tmp_path):
    original = tmp_path / "labeled_data.csv"
    original.write_text("text,label\nhello,0\n")
    with pytest.raises(CorpusError, match="missing column"):
        convert_davidson(original, tmp_path / "out.csv")
