"""Public labelled corpora the classifier can train on, and how to get them.

Each corpus is known by name, with its public address, the sha256 of the
original file and a converter to the project's `text,label` CSV. A corpus is
looked for in this order, so that this environment (and CI) never needs the
network and a user elsewhere gets it with one command:

1. ``$TAGWATCH_CORPORA_DIR/<name>/``: an already converted CSV, or the
   original file (checked against its sha256, converted into the cache);
2. a converted copy cached earlier in ``<cache_dir>/corpora/``;
3. a download from the public address (checked, converted, cached);
4. otherwise `CorpusUnavailable`, saying where to put the file.

A file whose checksum is wrong is never used nor cached: it is not the data
the model's metrics were measured on.
"""
from __future__ import annotations

import csv
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import requests

from tagwatch.config import Settings

DOWNLOAD_TIMEOUT = (10, 120)  # seconds: connect, read


class CorpusError(Exception):
    """A corpus could not be provided."""


class CorpusUnavailable(CorpusError):
    """Not found locally and not downloadable (offline, or download not allowed)."""


class CorpusChecksumError(CorpusError):
    """A file does not have the sha256 the registry expects."""


@dataclass(frozen=True)
class Corpus:
    name: str
    url: str
    sha256: str  # of the original file at `url`
    licence: str
    original_file: str
    converted_file: str
    convert: Callable[[Path, Path], int]  # (original, converted csv) -> rows written


def convert_davidson(original: Path, out: Path) -> int:
    """Davidson et al. 2017 -> text,label: class 0 (hate) or 1 (offensive) -> 1, 2 (neither) -> 0.

    Written in the same CSV dialect as the shared converted copy, so the two
    are byte for byte identical.
    """
    rows = 0
    with original.open(newline="", encoding="utf-8") as src, \
            out.open("w", newline="", encoding="utf-8") as dst:
        reader = csv.DictReader(src)
        missing = {"class", "tweet"} - set(reader.fieldnames or ())
        if missing:
            raise CorpusError(f"{original}: line 1: missing column(s) {sorted(missing)}")
        writer = csv.writer(dst, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
        writer.writerow(["text", "label"])
        for record in reader:
            if record["class"] not in ("0", "1", "2"):
                raise CorpusError(
                    f"{original}: line {reader.line_num}: class {record['class']!r} is not 0, 1 or 2"
                )
            writer.writerow([record["tweet"], 0 if record["class"] == "2" else 1])
            rows += 1
    return rows


CORPORA: dict[str, Corpus] = {
    "davidson": Corpus(
        name="davidson",
        url="https://raw.githubusercontent.com/t-davidson/hate-speech-and-offensive-language"
            "/master/data/labeled_data.csv",
        sha256="fcb8bc7c68120ae4af04a5b9acd58585513ede11e1548ebf36a5c2040b6f6281",
        licence="MIT",
        original_file="labeled_data.csv",
        converted_file="davidson_train.csv",
        convert=convert_davidson,
    ),
}


def get_corpus(name: str) -> Corpus:
    try:
        return CORPORA[name]
    except KeyError:
        raise ValueError(
            f"unknown corpus {name!r}; known corpora: {', '.join(sorted(CORPORA))}"
        ) from None


def corpus_path(name: str, settings: Settings, *, allow_download: bool = True,
                url: str | None = None) -> Path:
    """Path of the corpus as a text,label CSV, fetching it if needed (see module doc).

    `url` replaces the registry's public address (tests serve the file locally);
    the checksum expected is the registry's either way.
    """
    corpus = get_corpus(name)
    cached = settings.cache_dir / "corpora" / corpus.name / corpus.converted_file
    if settings.corpora_dir is not None:
        local = settings.corpora_dir / corpus.name
        if (local / corpus.converted_file).is_file():
            return local / corpus.converted_file
        if (local / corpus.original_file).is_file():
            if not cached.is_file():
                _check_sha256(local / corpus.original_file, corpus.sha256)
                _convert_into(corpus, local / corpus.original_file, cached)
            return cached
    if cached.is_file():
        return cached
    source = url or corpus.url
    if not allow_download:
        raise _unavailable(corpus, settings, source, "downloading is off")
    _download_and_convert(corpus, source, cached, settings)
    return cached


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_sha256(path: Path, expected: str) -> None:
    actual = sha256_of(path)
    if actual != expected:
        raise CorpusChecksumError(
            f"{path} has sha256 {actual}, expected {expected}: "
            "not the file this corpus is registered with (corrupt or changed upstream)"
        )


def _convert_into(corpus: Corpus, original: Path, converted: Path) -> None:
    """Convert into a temp file beside the target, then rename: no half-written cache."""
    converted.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=converted.parent, prefix=f".{converted.name}.")
    os.close(fd)
    try:
        corpus.convert(original, Path(tmp))
        os.replace(tmp, converted)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _download_and_convert(corpus: Corpus, url: str, converted: Path, settings: Settings) -> None:
    converted.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=converted.parent, prefix=f".{corpus.original_file}.")
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with requests.get(url, stream=True, timeout=DOWNLOAD_TIMEOUT,
                                  headers={"User-Agent": settings.user_agent}) as response:
                    response.raise_for_status()
                    for block in response.iter_content(1 << 16):
                        digest.update(block)
                        out.write(block)
            except requests.RequestException as exc:
                raise _unavailable(corpus, settings, url, f"download failed: {exc}") from exc
        if digest.hexdigest() != corpus.sha256:
            raise CorpusChecksumError(
                f"download of corpus {corpus.name!r} from {url} has sha256 {digest.hexdigest()}, "
                f"expected {corpus.sha256}; nothing was cached"
            )
        _convert_into(corpus, Path(tmp), converted)
    finally:
        os.unlink(tmp)


def _unavailable(corpus: Corpus, settings: Settings, url: str, why: str) -> CorpusUnavailable:
    looked = [str(settings.cache_dir / "corpora" / corpus.name)]
    if settings.corpora_dir is not None:
        looked.insert(0, str(settings.corpora_dir / corpus.name))
    else:
        looked.append("TAGWATCH_CORPORA_DIR is not set")
    return CorpusUnavailable(
        f"corpus {corpus.name!r} is not available ({why}; looked in: {'; '.join(looked)}). "
        f"Download {url} (sha256 {corpus.sha256}, licence {corpus.licence}) to "
        f"$TAGWATCH_CORPORA_DIR/{corpus.name}/{corpus.original_file}, or allow the download."
    )
