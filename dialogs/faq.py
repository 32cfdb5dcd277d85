"""The shop's FAQ: first-line answers a customer gets before a person is called (POLICY T14).

The FAQ is a YAML file (`faq/default.yaml` ships; a shop points the `FAQ` setting at its own).
`Faq.match` ranks its entries against what the customer wrote: Chinese is segmented into words
with jieba (a substring test would find 发票 "invoice" inside 出发票价 "departure fare"), English
is split into lower-case words with their plural/-ed/-ing endings stripped. The score is BM25
over each entry's question and keywords (answers count a little, for ordering only), with a
threshold so that a greeting or noise matches nothing.

Pure Python: no SQL, no Telegram.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import unicodedata
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["DEFAULT_FAQ", "Faq", "FaqEntry", "FaqError"]

DEFAULT_FAQ: Path = Path(__file__).resolve().parent.parent / "faq" / "default.yaml"

LOCALES: tuple[str, ...] = ("zh", "en")
_LANGUAGE_NAME = {"zh": "Chinese", "en": "English"}

# What the customer wrote is cut here before anything else: a FAQ question is one sentence,
# and segmenting a pasted 10,000-character text would only cost time.
MAX_QUERY_CHARS = 500

# BM25 constants. b is lower than the usual 0.75 because an entry's length mostly reflects how
# many keywords its author listed, not how diffuse it is.
_K1 = 1.2
_B = 0.5
# Term weights: the question and keywords say what an entry is about; the answer only breaks
# ties (and never qualifies an entry on its own, see `match`).
_ASKED_WEIGHT = 1.0
_ANSWER_WEIGHT = 0.2
# An entry is relevant when its score reaches this fraction of the idf of a term found in one
# entry only: one distinctive word qualifies, a word shared by a quarter of the FAQ (订单,
# "order") does not. Relative to the FAQ so the cut does not drift with the FAQ's size.
_MIN_SCORE_FRACTION = 0.6
# Entries far below the best one are noise next to it.
_MIN_RELATIVE_TO_BEST = 0.4

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_ENTRY_KEYS = frozenset({"id", "question", "answer", "keywords"})

# Runs of Han characters go to jieba; runs of Latin letters/digits are English words (or
# numbers). Everything else (punctuation, emoji, control characters, RTL marks) separates.
_TOKEN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[a-z0-9]+")
# 七天 and 7天 must be the same term, so Chinese numerals before a time unit become digits.
_CN_NUMBER_RE = re.compile(
    r"[零〇一二两三四五六七八九十]+(?=个?(?:工作日|天|日|小时|周|星期|月|年))"
)
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6}
_CN_DIGITS |= {"七": 7, "八": 8, "九": 9}


def _words(text: str) -> frozenset[str]:
    # Word lists as one string each: 100-odd one-word literals would spread them over 100 lines.
    return frozenset(text.split())


_ZH_STOP = _words(
    "的 了 吗 呢 吧 啊 呀 哦 嘛 啦 么 嗯 喂 哈 哈哈 我 你 您 他 她 它 我们 你们 他们 咱们 自己 "
    "怎么 怎么办 怎样 怎么样 如何 是 在 有 和 与 及 或 或者 就 都 也 还 还是 要 想 想要 能 "
    "能不能 可以 可不可以 会 请 请问 一下 这 那 这个 那个 这样 那样 什么 为什么 哪 哪里 哪儿 "
    "个 给 把 被 对 从 到 得 地 着 过 已经 因为 所以 但是 如果 就是 然后 现在 一个 不 很 太 "
    "又 再 吧 谢谢 你好 您好 好的 麻烦 一 上 下 里 中 之 其 该"
)
_EN_STOP = _words(
    "a an the is are was were be been being am i me my mine you your yours we our us it its "
    "this that these those he she they them their to of for in on at by with from about as "
    "into and or but if so do does did doing done can could will would shall should may might "
    "must have has had having how what when where which who whom why there here any some "
    "please hi hello hey thanks thank ok okay just want need get got also not no yes still yet "
    "than then very much more too up out off over again only s t d ll m re ve don doesn didn "
    "isn aren wasn weren won wouldn couldn haven hasn"
)

# Words of after-sales talk that jieba's general dictionary splits badly (天无 / 理由,
# 物流 / 单 / 号, 没收 / 到货): taught to the FAQ's own tokenizer, never to jieba's global one.
_ZH_DOMAIN_WORDS = (
    "无理由",
    "到账",
    "单号",
    "快递单号",
    "物流单号",
    "运单号",
    "运费险",
    "没收到",
    "收到货",
    "人工客服",
    "转人工",
    "错发",
    "漏发",
    "少发",
    "发错",
    "三包",
    "保修期",
    "退换货",
    "破损",
    "拒收",
    "退运费",
    "查件",
    "售后单",
)


class FaqError(ValueError):
    """The FAQ file cannot be used; the message is one sentence naming the file."""


@dataclass(frozen=True, slots=True)
class FaqEntry:
    id: str  # lower-case id from the file
    question: dict[str, str]  # {"zh": ..., "en": ...}
    answer: dict[str, str]  # {"zh": ..., "en": ...}; plain text (the caller escapes it for HTML)


# ----------------------------------------------------------------------------- tokenizing

_tokenizer: Any = None  # jieba.Tokenizer, created on first use (loading its dictionary takes ~1 s)
_tokenizer_lock = threading.Lock()


def _jieba() -> Any:
    global _tokenizer
    if _tokenizer is None:
        with _tokenizer_lock:
            if _tokenizer is None:
                with warnings.catch_warnings():
                    # jieba imports pkg_resources, which newer setuptools flags as deprecated;
                    # the test suite turns warnings into errors.
                    warnings.simplefilter("ignore")
                    import jieba

                # Its INFO lines ("Building prefix dict...") are noise in the bot's log.
                jieba.setLogLevel(logging.WARNING)
                tokenizer = jieba.Tokenizer()
                for word in _ZH_DOMAIN_WORDS:
                    tokenizer.add_word(word)
                tokenizer.initialize()
                _tokenizer = tokenizer
    return _tokenizer


def _cn_number(numeral: str) -> str:
    """二十四 → 24; numerals beyond 99 are left as they are (no FAQ counts them)."""
    if "十" not in numeral:
        if len(numeral) == 1:
            return str(_CN_DIGITS[numeral])
        return numeral
    tens, _, units = numeral.partition("十")
    if len(tens) > 1 or len(units) > 1 or "十" in units:
        return numeral
    return str((_CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (_CN_DIGITS.get(units, 0)))


def _en_stem(word: str) -> str:
    """A deliberately small stemmer: the same stem for refund/refunds/refunded/refunding,
    ship/shipped/shipping, address/addresses, delivery/delivered. Both sides of a match go
    through it, so a stem only has to be consistent, not a real word."""
    if len(word) <= 3 or word.isdigit():
        return word
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            # shipped → shipp → ship, cancelled → cancel; but call(ed), address(ed) keep theirs.
            double = word[-1] == word[-2] and word[-1] not in "sz"
            if double and (word[-1] != "l" or len(word) >= 6):
                word = word[:-1]
            break
    else:
        if word.endswith("ies") and len(word) > 4:
            word = word[:-3] + "y"
        elif word.endswith(("sses", "xes", "ches", "shes")):
            word = word[:-2]
        elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
            word = word[:-1]
    # damage/damaged, arrive/arriving, delivery/delivered end alike once e/y is gone.
    if len(word) > 4 and word[-1] in "ey":
        word = word[:-1]
    return word


def _normalize(text: str) -> str:
    text = text[:MAX_QUERY_CHARS]
    # Full-width letters and digits (ＡＢＣ７) are common in Chinese input; NFKC can lengthen a
    # string, so cut again.
    text = unicodedata.normalize("NFKC", text).lower()[:MAX_QUERY_CHARS]
    return _CN_NUMBER_RE.sub(lambda m: _cn_number(m.group()), text)


def _terms(text: str) -> list[str]:
    """The terms of a text, in order, with repeats: jieba words for Chinese, stems for English,
    numbers as they are; stop words dropped. Never raises on a string."""
    out: list[str] = []
    for run in _TOKEN_RE.findall(_normalize(text)):
        if run[0].isascii():
            if run not in _EN_STOP and (len(run) > 1 or run.isdigit()):
                out.append(_en_stem(run))
        else:
            # cut_for_search also yields the dictionary words inside a long word (快递单号 →
            # 快递, 单号, 快递单号), so a short query still meets a long one. No HMM: on short
            # customer sentences it glues function characters to content (想换, 能修).
            out.extend(w for w in _jieba().cut_for_search(run, HMM=False) if w not in _ZH_STOP)
    return out


# ----------------------------------------------------------------------------- loading


def _fail(name: str, problem: str) -> FaqError:
    return FaqError(f"{name}: {problem}.")


def _read_yaml(path: Path, name: str) -> Any:
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _fail(name, "the file does not exist") from None
    except IsADirectoryError:
        raise _fail(name, "is a directory, not a file") from None
    except UnicodeDecodeError:
        raise _fail(name, "is not UTF-8 text") from None
    except OSError as exc:
        raise _fail(name, f"cannot be read ({exc.strerror or exc})") from None
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None)
        detail = f" ({' '.join(str(problem).split())})" if problem else ""
        raise _fail(name, f"is not valid YAML{where}{detail}") from None


def _texts(raw: Any, name: str, number: int, field: str) -> dict[str, str]:
    """question/answer: {zh: text, en: text}, both present and not blank."""
    if not isinstance(raw, Mapping):
        raise _fail(name, f"entry {number} has no {field} with zh and en texts")
    unknown = sorted(str(key) for key in raw if key not in LOCALES)
    if unknown:
        raise _fail(name, f"entry {number} has an unknown language {unknown[0]!r} in its {field}")
    texts: dict[str, str] = {}
    for locale in LOCALES:
        value = raw.get(locale)
        if not isinstance(value, str) or not value.strip():
            raise _fail(name, f"entry {number} has no {_LANGUAGE_NAME[locale]} {field}")
        texts[locale] = value.strip()
    return texts


def _keywords(raw: Any, name: str, number: int) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise _fail(name, f"entry {number} has keywords that are not a zh/en mapping")
    unknown = sorted(str(key) for key in raw if key not in LOCALES)
    if unknown:
        raise _fail(name, f"entry {number} has an unknown language {unknown[0]!r} in its keywords")
    out: dict[str, tuple[str, ...]] = {}
    for locale, words in raw.items():
        if words is None:
            continue
        if not isinstance(words, list) or not all(
            isinstance(word, str) and word.strip() for word in words
        ):
            raise _fail(name, f"entry {number} has {locale} keywords that are not a list of words")
        out[locale] = tuple(word.strip() for word in words)
    return out


def _parse(data: Any, name: str) -> tuple[list[FaqEntry], dict[str, dict[str, tuple[str, ...]]]]:
    if data is None or data == []:
        raise _fail(name, "has no entries")
    if not isinstance(data, list):
        raise _fail(name, "must be a list of entries (each with id, question and answer)")
    entries: list[FaqEntry] = []
    keywords: dict[str, dict[str, tuple[str, ...]]] = {}
    first_seen: dict[str, int] = {}
    for number, raw in enumerate(data, start=1):
        if not isinstance(raw, Mapping):
            raise _fail(name, f"entry {number} is not a mapping with id, question and answer")
        unknown = sorted(str(key) for key in raw if key not in _ENTRY_KEYS)
        if unknown:
            raise _fail(name, f"entry {number} has an unknown field {unknown[0]!r}")
        entry_id = raw.get("id")
        if not isinstance(entry_id, str) or not entry_id:
            raise _fail(name, f"entry {number} has no id")
        if not _ID_RE.match(entry_id):
            raise _fail(
                name,
                f"entry {number} has the id {entry_id!r}, "
                "which is not lower-case letters, digits, '-' and '_'",
            )
        if entry_id in first_seen:
            raise _fail(
                name, f"entry {number} repeats the id {entry_id!r} of entry {first_seen[entry_id]}"
            )
        first_seen[entry_id] = number
        question = _texts(raw.get("question"), name, number, "question")
        answer = _texts(raw.get("answer"), name, number, "answer")
        keywords[entry_id] = _keywords(raw.get("keywords"), name, number)
        entries.append(FaqEntry(id=entry_id, question=question, answer=answer))
    return entries, keywords


# ----------------------------------------------------------------------------- the FAQ


@dataclass(frozen=True, slots=True)
class _Doc:
    weights: dict[str, float]  # term → weighted frequency (question, keywords, answer)
    qualifying: frozenset[str]  # terms of the question and keywords, either language
    by_locale: dict[str, frozenset[str]]  # the same per language, to break ties
    length: float


class Faq:
    """The loaded FAQ with its search index; never changed after loading, so one instance is
    shared by all conversations."""

    __slots__ = ("_avg_length", "_by_id", "_df", "_docs", "_min_score", "entries")

    entries: tuple[FaqEntry, ...]

    def __init__(
        self,
        entries: Iterable[FaqEntry],
        keywords: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
    ) -> None:
        self.entries = tuple(entries)
        self._by_id = {entry.id: entry for entry in self.entries}
        if len(self._by_id) != len(self.entries):
            raise ValueError("FAQ entry ids must be unique")
        keywords = keywords or {}
        self._docs = tuple(self._index(entry, keywords.get(entry.id, {})) for entry in self.entries)
        self._df: dict[str, int] = {}
        for doc in self._docs:
            for term in doc.weights:
                self._df[term] = self._df.get(term, 0) + 1
        self._avg_length = sum(doc.length for doc in self._docs) / max(len(self._docs), 1) or 1.0
        self._min_score = _MIN_SCORE_FRACTION * self._idf(1)

    @classmethod
    def load(cls, path: str | Path) -> Faq:
        name = str(path)
        entries, keywords = _parse(_read_yaml(Path(path), name), name)
        return cls(entries, keywords)

    def entry(self, entry_id: str) -> FaqEntry | None:
        return self._by_id.get(entry_id)

    def match(self, text: str, locale: str, limit: int = 3) -> list[FaqEntry]:
        """The entries that answer `text`, best first; [] when none is relevant enough.

        The query is matched against both languages (a customer may write English in a zh
        conversation); `locale` only breaks ties in favour of entries matched in that language.
        """
        if not isinstance(text, str) or limit <= 0:
            return []
        query = set(_terms(text))  # a repeated word is not more relevant
        if not query:
            return []
        ranked: list[tuple[float, int, int]] = []
        for position, doc in enumerate(self._docs):
            # The answer alone never qualifies an entry: its words are about the remedy, and
            # would match questions about something else.
            if not query & doc.qualifying:
                continue
            score = self._score(query, doc)
            if score >= self._min_score:
                in_locale = len(query & doc.by_locale.get(locale, frozenset()))
                ranked.append((score, in_locale, position))
        if not ranked:
            return []
        ranked.sort(key=lambda item: (-item[0], -item[1], item[2]))
        best = ranked[0][0]
        return [
            self.entries[position]
            for score, _, position in ranked[:limit]
            if score >= _MIN_RELATIVE_TO_BEST * best
        ]

    # -- scoring

    @staticmethod
    def _index(entry: FaqEntry, keywords: Mapping[str, Sequence[str]]) -> _Doc:
        by_locale: dict[str, frozenset[str]] = {}
        answer_terms: list[str] = []
        for locale in LOCALES:
            asked = set(_terms(entry.question[locale]))
            for keyword in keywords.get(locale, ()):
                asked.update(_terms(keyword))
            by_locale[locale] = frozenset(asked)
            answer_terms.extend(_terms(entry.answer[locale]))
        qualifying = frozenset().union(*by_locale.values())
        # A term of the question or keywords counts once, in whichever language and however
        # often it is repeated there: a keyword that restates the question (取消 / 取消订单)
        # must not make the entry claim the word 订单 for itself.
        weights = dict.fromkeys(qualifying, _ASKED_WEIGHT)
        for term in answer_terms:
            weights[term] = weights.get(term, 0.0) + _ANSWER_WEIGHT
        return _Doc(weights, qualifying, by_locale, sum(weights.values()))

    def _idf(self, df: int) -> float:
        n = len(self._docs)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def _score(self, query: set[str], doc: _Doc) -> float:
        norm = _K1 * (1.0 - _B + _B * doc.length / self._avg_length)
        score = 0.0
        for term in query:
            tf = doc.weights.get(term)
            if tf:
                score += self._idf(self._df[term]) * tf * (_K1 + 1.0) / (tf + norm)
        return score
