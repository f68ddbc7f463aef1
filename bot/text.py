"""Danish text normalisation: fold, tokenise, stem, split compounds.

Both sides (the knowledge base and a member's message) go through the same steps, so a
member who writes "paaroerende", "parorende" or "pårørende" reaches the same entry:

1. `fold`: Unicode NFKC, casefold, drop zero-width and control characters, æ/ø/å -> ae/oe/aa
   and other accents stripped.
2. `skeleton`: the folded ascii word with "aa"->"a", "oe"->"o", "ae"->"e", so spellings
   without a Danish keyboard ("parorende") meet the folded ones ("paaroerende").
3. Snowball's Danish stemmer (the `snowballstemmer` package ships it; nothing is downloaded).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

_DANISH = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "ß": "ss"})
_TOKEN = re.compile(r"[a-z0-9]+")
_SKELETON = re.compile(r"aa|oe|ae")
_SKELETON_MAP = {"aa": "a", "oe": "o", "ae": "e"}

# Snowball's Danish stop list, minus the words that decide what a question asks:
# question words (hvad, hvor, hvem, hvordan, hvorfor, hvornår, hvilke, mange) and negation
# (ikke, ingen, uden, mod) stay, so "hvor mange" and "ikke" still count.
STOPWORDS_DA = frozenset(
    """og i jeg det at en den til er som på de med han af for der var mig sig men et har om vi
    min havde ham hun nu over da fra du ud sin dem os op man hans eller skal selv her alle vil
    blev kunne ind når være dog noget ville jo deres ned skulle denne end dette mit også under
    have dig anden hende mine alt meget sit sine vor disse hvis din nogle hos blive ad bliver
    hendes været thi jer sådan kan så lige bare egentlig gerne mon nok jo da vel altså
    mere helt får fik få jeres dit dine ens overhovedet faktisk synes tror mener sige siger
    fortæl fortælle ved vide godt rigtig rigtigt ret lidt nogen ting gøre gør går gå hedder
    står stå kom kommer komme please pls ok okay
    nr osv dvs mht evt bla feks jf etc vedr iflg
    what is that the how does mean means this about of an and can are there any your you me
    my tell explain""".split()  # abbreviations: "anbefaling nr 25"; English: "sociolance?? what is that"
)

_stemmer = snowballstemmer.stemmer("danish")


def fold(text: str) -> str:
    """Casefold, æ/ø/å -> ae/oe/aa, accents stripped; anything else non-ascii is dropped.

    The result is only used for matching (tokens are [a-z0-9]+), so dropping emoji,
    zero-width, right-to-left and control characters is what we want.
    """
    text = unicodedata.normalize("NFKC", text).casefold().translate(_DANISH)
    if text.isascii():
        return text
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def skeleton(word: str) -> str:
    """'paaroerende' -> 'parorende': the form a word takes without a Danish keyboard."""
    return _SKELETON.sub(lambda m: _SKELETON_MAP[m.group(0)], word)


@lru_cache(maxsize=16384)
def _words(text: str) -> tuple[str, ...]:
    # aa/oe/ae never span two words, so the whole text is skeletonised at once.
    return tuple(_TOKEN.findall(skeleton(fold(text))))


def words(text: str) -> list[str]:
    """Folded, skeletonised words of a text, stopwords kept."""
    return list(_words(text))


# Numbers as people say them to a phone that writes for them ("tredive dage", "femten
# procent", "tyve atten" for 2018, "to tusind og toogtyve"), read as the digits the documents
# use. Units alone (en, to, tre, ...) stay words: "en" and "et" are articles; so does "ti",
# which the documents write as a word and inside compounds ("tiårsplan", "over ti år").
_TEENS = {"elleve": 11, "tolv": 12, "tretten": 13, "fjorten": 14, "femten": 15,
          "seksten": 16, "sytten": 17, "atten": 18, "nitten": 19}
_TENS = {"tyve": 20, "tredive": 30, "fyrre": 40, "halvtreds": 50, "tres": 60,
         "halvfjerds": 70, "firs": 80, "halvfems": 90}
_UNITS = {"en": 1, "et": 1, "to": 2, "tre": 3, "fire": 4, "fem": 5, "seks": 6, "syv": 7,
          "otte": 8, "ni": 9}
_COMPOUND = re.compile(r"(en|to|tre|fire|fem|seks|syv|otte|ni)og(" + "|".join(_TENS) + r")")


def _number(word: str) -> int | None:
    """10-99 written as one word ("atten", "toogtyve"), or None."""
    if word in _TEENS:
        return _TEENS[word]
    if word in _TENS:
        return _TENS[word]
    m = _COMPOUND.fullmatch(word)
    return _UNITS[m.group(1)] + _TENS[m.group(2)] if m else None


# Every number word above holds one of these; a text with none of them is left as it is.
_NUMBER_HINT = re.compile("|".join((*_TEENS, *_TENS, "tusind")))


@lru_cache(maxsize=16384)
def _spoken(text: str) -> tuple[str, ...]:
    ws = _words(text)
    if not _NUMBER_HINT.search(" ".join(ws)):
        return ws
    out: list[str] = []
    i = 0
    while i < len(ws):
        w = ws[i]
        # "to tusind (og) atten" -> 2018
        if w in _UNITS and i + 1 < len(ws) and ws[i + 1] == "tusind":
            j = i + 2 + (i + 2 < len(ws) and ws[i + 2] == "og")
            rest = _number(ws[j]) if j < len(ws) else None
            if rest is None and j < len(ws) and ws[j] in _UNITS and j > i + 2:
                rest = _UNITS[ws[j]]
            if rest is not None:
                out.append(str(_UNITS[w] * 1000 + rest))
                i = j + 1
            else:
                out.append(str(_UNITS[w] * 1000))
                i += 2
            continue
        n = _number(w)
        if n is None:
            out.append(w)
            i += 1
            continue
        # "tyve atten", "nitten halvfems": a year said in two halves
        m = _number(ws[i + 1]) if i + 1 < len(ws) else None
        if m is not None and n in (19, 20):
            out.append(str(n * 100 + m))
            i += 2
            continue
        out.append(str(n))
        i += 1
    return tuple(out)


def spoken_words(text: str) -> list[str]:
    """`words`, with numbers said in words read as digits ("tredive dage" -> "30 dage")."""
    return list(_spoken(text))


STOP_SKELETONS = frozenset(skeleton(w) for w in (fold(s) for s in STOPWORDS_DA))


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Stem one skeleton word; numbers stay as they are."""
    if word.isdigit() or len(word) <= 3:
        return word
    return str(_stemmer.stemWord(word))


def content_words(text: str) -> list[str]:
    """Words that carry meaning: skeleton form, stopwords removed."""
    return [w for w in words(text) if w not in STOP_SKELETONS]


class CompoundSplitter:
    """Splits closed compounds into parts the index knows: 'paarorendevejleder' -> parts.

    Danish writes compounds as one word (pårørendevejleder) where a member may write two
    (pårørende vejleder), and the other way round. A word is split when both halves (the
    left one optionally with a linking -s- or -e-) are words of the vocabulary, or the right
    half splits again.
    """

    MIN_PART = 3

    def __init__(self, vocabulary: set[str]):
        self.vocabulary = {w for w in vocabulary if len(w) >= self.MIN_PART and not w.isdigit()}

    def _known(self, part: str) -> bool:
        return part in self.vocabulary

    @lru_cache(maxsize=65536)  # noqa: B019 - one splitter per index, lives as long as it
    def split(self, word: str, depth: int = 0) -> tuple[str, ...]:
        """Parts of `word` (empty when it is not a compound of known words)."""
        n = len(word)
        if n < 2 * self.MIN_PART or depth > 2:
            return ()
        best: tuple[str, ...] = ()
        best_key: tuple[int, int] | None = None
        for i in range(self.MIN_PART, n - self.MIN_PART + 1):
            left, right = word[:i], word[i:]
            lefts = [left]
            if left[-1] in "se" and len(left) > self.MIN_PART:
                lefts.append(left[:-1])
            left_ok = next((l for l in lefts if self._known(l)), None)
            if left_ok is None:
                continue
            if self._known(right):
                parts: tuple[str, ...] = (left_ok, right)
            else:
                rest = self.split(right, depth + 1)
                if not rest:
                    continue
                parts = (left_ok, *rest)
            # Prefer few parts, then the most even split (long parts are safer).
            key = (-len(parts), min(len(p) for p in parts))
            if best_key is None or key > best_key:
                best, best_key = parts, key
        return best
