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

The real corpora (`REAL_CORPORA`: davidson and the other folders of the shared
corpora, each described by its README there) are read in place from
``$TAGWATCH_CORPORA_DIR/<name>/``, every file checked against the sha256 its
README gives, labels mapped to abusive = 1 / not = 0 as the README suggests,
exact duplicates kept once and duplicate texts with conflicting labels dropped.
`load_training_corpora` is what training calls; hatecheck is a diagnostic test
suite of templated cases, readable only through `load_diagnostic_suite`.
"""
from __future__ import annotations

import csv
import hashlib
import os
import re
import tempfile
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Iterable, Protocol

import numpy as np
import requests

from classifiers import corpus_readers as readers

DOWNLOAD_TIMEOUT = (10, 120)  # seconds: connect, read


class CorpusPlaces(Protocol):
    """What finding a corpus needs from its caller (the application's settings have it):
    the shared copies, the download cache, and the User-Agent a download sends."""

    corpora_dir: Path | None
    cache_dir: Path
    user_agent: str


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


def corpus_path(name: str, settings: CorpusPlaces, *, allow_download: bool = True,
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


def _download_and_convert(corpus: Corpus, url: str, converted: Path, settings: CorpusPlaces) -> None:
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


def _unavailable(corpus: Corpus, settings: CorpusPlaces, url: str, why: str) -> CorpusUnavailable:
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


# --- The real corpora, read in place ------------------------------------------------------

TRAINING = "training"
DIAGNOSTIC = "diagnostic"


class DiagnosticCorpusError(CorpusError):
    """A diagnostic test suite was asked for as training data."""


@dataclass(frozen=True)
class RealCorpus:
    name: str
    role: str  # TRAINING, or DIAGNOSTIC: never trained on
    text_source: str
    label_meaning: str  # what label 1 means after our mapping (and what 0 does not exclude)
    licence: str
    source: str  # pinned public address
    files: dict[str, str]  # path inside the corpus folder -> sha256
    read: Callable[[Path], readers.Rows]
    # A checksum list (sha256sum format) of further files, and the prefix of those read.
    sums_file: tuple[str, str] | None = None


@dataclass(frozen=True)
class LabelledCorpus:
    """One real corpus, ready to train or test on: row i is (texts[i], labels[i], groups[i]).

    `groups` never splits what belongs together: rows of one post, thread,
    issue or conversation, and rows whose normalised texts are equal (within
    this corpus), share a group. Split folds by group, not by row.
    """
    name: str
    texts: list[str]
    labels: np.ndarray  # int64, 1 = abusive in the sense of `label_meaning`
    groups: np.ndarray  # str
    label_meaning: str
    text_source: str
    licence: str
    source: str
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> rows left out

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def positives(self) -> int:
        return int(self.labels.sum())


@dataclass(frozen=True)
class DiagnosticSuite:
    """Templated test cases, scored per functionality; never training data."""
    name: str
    texts: list[str]
    labels: np.ndarray
    functionality: list[str]
    label_gold: list[str]
    label_meaning: str
    licence: str
    source: str


def _pinned(repo: str, commit: str) -> str:
    return f"https://github.com/{repo}/tree/{commit}"


REAL_CORPORA: dict[str, RealCorpus] = {c.name: c for c in [
    RealCorpus(
        "davidson", TRAINING, "tweets",
        "hate speech or offensive language (crowd majority); 0 = neither", "MIT",
        _pinned("t-davidson/hate-speech-and-offensive-language",
                "cb50f7e9eb855a99abc51423bf40df0e26d6fe30"),
        {"labeled_data.csv": CORPORA["davidson"].sha256}, readers.read_davidson),
    RealCorpus(
        "stormfront", TRAINING, "sentences of white-supremacist forum posts",
        "hate speech (an attack on a group by identity); insults at no protected group are 0; "
        "sentences hateful only with the rest of their post are dropped", "CC BY-SA 3.0 ES",
        _pinned("Vicomtech/hate-speech-dataset", "b802137e8314c38a8d4faa965f9908d6c8e7a84d"),
        {"annotations_metadata.csv":
         "306bfaab400e1542529d1791b9ec68d70bed579c52fc7e255b0626ab7bc5c7c9",
         "SHA256SUMS": "d12fe12f5d32fc8ad1366a721db1dc922ee4fc4676beedee8e5944b51c8bb7cc"},
        readers.read_stormfront, sums_file=("SHA256SUMS", "all_files/")),
    RealCorpus(
        "convabuse", TRAINING, "what users typed to two chat systems",
        "abuse (mostly at the system, second person), by a strict majority of annotators; "
        "ties dropped", "CC BY 4.0",
        _pinned("amandacurry/convabuse", "c0a9469f48956e868276c605d499010ea3c7c0d0"),
        {"2_splits/ConvAbuseEMNLPtrain.csv":
         "23abab3eff791d0e8cac681cec15a5ef299ed052699e4fca762d1d4640c36936",
         "2_splits/ConvAbuseEMNLPvalid.csv":
         "a28bc3083fe3ea305b8c417539a20fda7e68057dc06365507b85c46b60e65443",
         "2_splits/ConvAbuseEMNLPtest.csv":
         "8387d70332cd2245a095240534629152dd5729e8e9556e91b6b20dabdc0bb9d0"},
        readers.read_convabuse),
    RealCorpus(
        "mlma", TRAINING, "English tweets sampled by slur and hot-button keywords",
        "any hostility type (offensive, abusive, hateful, disrespectful, fearful); 0 = 'normal'",
        "MIT",
        "https://github.com/HKUST-KnowComp/MLMA_hate_speech/blob/"
        "479836984aebfbd8a0270ca92018980f745e4c44/hate_speech_mlma.zip",
        {"hate_speech_mlma.zip": "56db7efb1b64a2570f63d0cdb48d119c5e32eccff13f3c22bf17a4331956dc43"},
        partial(readers.read_mlma,
                member_sha256="75daa34f50aff5522cf39360c45ec0ea9474cba4bc55ed216cfdabd4c4f46ab6")),
    RealCorpus(
        "toxicr", TRAINING, "code-review comments between colleagues",
        "toxic (mild profanity and curtness count)",
        "GPL-3.0 (whether a model trained on it carries GPL duties is unclear)",
        "https://github.com/WSU-SEAL/ToxiCR/blob/10178b5c33f7d05fdbc45bfd7fdab4e6bf2895d4/"
        "models/code-review-dataset-full.xlsx",
        {"code-review-dataset-full.xlsx":
         "51517e250312eadd50c157ef9efc269161938aa864bee97d60c587162b0f03f1"},
        readers.read_toxicr),
    RealCorpus(
        "foxnews", TRAINING, "comments under 10 Fox News articles",
        "identity-based hate; insults at other commenters are 0, so 0 is not 'not abusive'",
        "MIT",
        _pinned("sjtuprog/fox-news-comments", "914b6bcdff380b16b6a11818e4760529fe23f2f3"),
        {"full-comments-u.json": "059152e61f632f1e6671a68214d5618a21e6cf78f2512773e0421b9568aab8cf"},
        readers.read_foxnews),
    RealCorpus(
        "misogyny", TRAINING, "Reddit posts and comments, mostly from male-focused subreddits",
        "misogynistic, or a personal attack at another user; general rudeness is 0", "MIT",
        _pinned("ellamguest/online-misogyny-eacl2021", "b3c04567452ed92b160c3692343a0f2d74a027b2"),
        {"data/final_labels.csv":
         "2db36c213237214a8dcf15861c89dd2b9ff7add1e6ce307fbaa432b000e18251"},
        readers.read_misogyny),
    RealCorpus(
        "reddit_incivility", TRAINING, "Reddit comments",
        "uncivil (name-calling, aspersion, vulgarity; swearing alone counts): broader and "
        "milder than abuse", "BSD-3-Clause",
        _pinned("ercexpo/reddit_incivility", "650e4ce9c5e1b1f37fe421eeab4f2643a5f3930e"),
        {"incivility_coded_0302.csv":
         "53926dd6421335ba451df240c0e577bb9855ca24e87943ee2088b89796507f2b"},
        readers.read_reddit_incivility),
    RealCorpus(
        "gh_incivility", TRAINING, "comments in locked, heated GitHub issue threads",
        "insulting, mocking, threat, vulgarity or identity attack; 0 = no incivility "
        "(frustration, impatience, entitlement, irony dropped)", "MIT",
        _pinned("vcu-swim-lab/incivility-dataset", "5e76aa97b0f57a4cf58c021469c79d4d1e805885"),
        {"dataset/annotated_comment_level.csv":
         "8feaef255cb9a741626c3ce10835c69405a75fb070993c2f2f6619c00c5cd972"},
        readers.read_gh_incivility),
    RealCorpus(
        "strudel", TRAINING, "GitHub issue comments",
        "toxic (insults, entitled demands, sarcasm, swearing at maintainers or others)", "MIT",
        _pinned("CMUSTRUDEL/toxicity-detector", "53237db0afd088c488c8ef0fc5b88c8ac29cedbe"),
        {"data/training/train_comments.csv":
         "15f95841ca301d7f3389302c390054859fd57a0982e128c1a35e4a0ec731a506"},
        readers.read_strudel),
    RealCorpus(
        "hatecheck", DIAGNOSTIC, "templated functional test cases (synthetic)",
        "abusive: hateful, or abuse at an individual or a non-protected group "
        "(target_indiv_nh, target_group_nh)", "CC BY 4.0",
        _pinned("paul-rottger/hatecheck-data", "d84302298ceeb34f4b0dde2d8a1f4932c2caa612"),
        {"test_suite_cases.csv": "ecf0dc1e93fccc90b6f880e632b19e635c0f0a68b3157915a9e20b6938f121cf"},
        readers.read_hatecheck),
]}

TRAINING_CORPORA = tuple(n for n, c in REAL_CORPORA.items() if c.role == TRAINING)
DIAGNOSTIC_SUITES = tuple(n for n, c in REAL_CORPORA.items() if c.role == DIAGNOSTIC)


def assert_trainable(name: str) -> None:
    """Raise DiagnosticCorpusError if `name` is a diagnostic suite (training code calls this)."""
    if name in DIAGNOSTIC_SUITES:
        raise DiagnosticCorpusError(
            f"corpus {name!r} is a diagnostic test suite of templated cases, never training data: "
            "a model trained on part of it learns the templates. Use load_diagnostic_suite.")


def load_training_corpus(name: str, corpora_dir: Path | None) -> LabelledCorpus:
    """One training corpus, checksum-verified, mapped and de-duplicated (see module doc)."""
    assert_trainable(name)
    spec = _real_corpus(name)
    rows = _verified_rows(spec, corpora_dir)
    return _labelled(spec, rows)


def load_training_corpora(corpora_dir: Path | None, names: Iterable[str] | None = None
                          ) -> tuple[list[LabelledCorpus], list[str]]:
    """Every training corpus present (or those named), and a note per one that is missing.

    A missing corpus is skipped with a note; a present one with a wrong checksum
    or format raises: training on changed data must not pass silently.
    """
    names = list(TRAINING_CORPORA if names is None else names)
    for name in names:
        assert_trainable(name)
    loaded, notes = [], []
    for name in names:
        try:
            loaded.append(load_training_corpus(name, corpora_dir))
        except CorpusUnavailable as exc:
            notes.append(f"warning: {exc}")
    return loaded, notes


def load_diagnostic_suite(name: str, corpora_dir: Path | None) -> DiagnosticSuite:
    spec = _real_corpus(name)
    if spec.role != DIAGNOSTIC:
        raise CorpusError(f"corpus {name!r} is training data, not a diagnostic suite; "
                          f"diagnostic suites: {', '.join(DIAGNOSTIC_SUITES)}")
    rows = _verified_rows(spec, corpora_dir).rows
    return DiagnosticSuite(name, [r.text for r in rows], np.array([r.label for r in rows],
                                                                  dtype=np.int64),
                           [r.extra["functionality"] for r in rows],
                           [r.extra["label_gold"] for r in rows],
                           spec.label_meaning, spec.licence, spec.source)


def missing_corpora(corpora_dir: Path | None) -> list[str]:
    """Names of the real corpora whose files are not all in `corpora_dir` (no checksums: fast)."""
    return [name for name, spec in REAL_CORPORA.items()
            if corpora_dir is None
            or not all((Path(corpora_dir) / name / f).is_file() for f in spec.files)]


def corpora_warning(corpora_dir: Path | None) -> str | None:
    """One line naming the missing real corpora, or None when all are there."""
    missing = missing_corpora(corpora_dir)
    if not missing:
        return None
    where = (f"in {corpora_dir}" if corpora_dir is not None
             else "because TAGWATCH_CORPORA_DIR is not set")
    return (f"warning: real corpora missing {where}: {', '.join(missing)}; "
            "a model trained without them is weaker on real posts")


def text_key(text: str) -> str:
    """A text as compared for duplicates: case, accents' forms, punctuation and spacing ignored."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.sub(r"[\W_]+", " ", text).split())


def check_bytes_sha256(data: bytes, expected: str, what: str) -> None:
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise CorpusChecksumError(f"{what} has sha256 {actual}, expected {expected}: "
                                  "not the file this corpus is registered with")


def _real_corpus(name: str) -> RealCorpus:
    try:
        return REAL_CORPORA[name]
    except KeyError:
        raise ValueError(f"unknown corpus {name!r}; known corpora: "
                         f"{', '.join(REAL_CORPORA)}") from None


def _verified_rows(spec: RealCorpus, corpora_dir: Path | None) -> readers.Rows:
    if corpora_dir is None:
        raise CorpusUnavailable(f"corpus {spec.name!r} is not available: TAGWATCH_CORPORA_DIR "
                                f"is not set (get it from {spec.source})")
    folder = Path(corpora_dir) / spec.name
    missing = [f for f in spec.files if not (folder / f).is_file()]
    if missing:
        raise CorpusUnavailable(f"corpus {spec.name!r} is not available: missing "
                                f"{', '.join(str(folder / f) for f in missing)} "
                                f"(get it from {spec.source}, licence {spec.licence})")
    for relative, expected in spec.files.items():
        _check_sha256(folder / relative, expected)
    if spec.sums_file:
        _check_listed(folder, folder / spec.sums_file[0], spec.sums_file[1])
    try:
        return spec.read(folder)
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"corpus {spec.name!r}: cannot read {folder} ({exc})") from None


def _check_listed(folder: Path, sums: Path, prefix: str) -> None:
    """Each file under `prefix` that a verified sha256sum list names has its sha256."""
    for line in sums.read_text(encoding="utf-8").splitlines():
        expected, _, relative = line.partition("  ")
        if not relative.startswith(prefix):
            continue
        path = (folder / relative).resolve()
        if not path.is_relative_to(folder.resolve()):
            raise CorpusChecksumError(f"{sums}: {relative!r} is outside {folder}")
        if not path.is_file():
            raise CorpusUnavailable(f"corpus {folder.name!r}: {path} is missing ({sums} lists it)")
        _check_sha256(path, expected)


def _labelled(spec: RealCorpus, read: readers.Rows) -> LabelledCorpus:
    """Strip, drop empty texts, keep exact duplicates once, drop conflicting ones, group."""
    dropped = Counter(read.dropped)
    by_text: dict[str, list[readers.Row]] = {}
    for row in read.rows:
        text = row.text.strip()
        if not text:
            dropped["empty text"] += 1
            continue
        by_text.setdefault(text, []).append(row)
    texts, labels, groups = [], [], []
    for text, rows in by_text.items():
        if len({r.label for r in rows}) > 1:
            dropped["duplicate text with conflicting labels"] += len(rows)
            continue
        if len(rows) > 1:
            dropped["exact duplicate"] += len(rows) - 1
        texts.append(text)
        labels.append(rows[0].label)
        groups.append(rows[0].group)
    return LabelledCorpus(
        spec.name, texts, np.array(labels, dtype=np.int64),
        np.array([f"{spec.name}:{g}" for g in _merge_groups(texts, groups)], dtype=object),
        spec.label_meaning, spec.text_source, spec.licence, spec.source, dict(dropped))


def _merge_groups(texts: list[str], groups: list[str]) -> list[str]:
    """Groups joined when their texts are equal once normalised (near copies stay in one fold)."""
    parent: dict[str, str] = {}

    def root(g: str) -> str:
        while parent.get(g, g) != g:
            parent[g] = parent.get(parent[g], parent[g])
            g = parent[g]
        return g

    first_group_of_key: dict[str, str] = {}
    for text, group in zip(texts, groups):
        other = first_group_of_key.setdefault(text_key(text), group)
        a, b = root(group), root(other)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return [root(g) for g in groups]
