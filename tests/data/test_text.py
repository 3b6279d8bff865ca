import sys
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dangtopic.data.text import is_vietnamese, normalize_sentence, normalize_text
from dangtopic.models.tiny import TINY_SENTENCES

SENTENCE = "Toàn tỉnh đã kết nạp mới 3.787 đảng viên."
# The characters of issue 12 that flipped 16-18 of 24 labels when inserted into every word.
ATTACK = "\u200e\u200f\u202e\u2066\u034f\u180e\u2063\ufe0f"
# Every default-ignorable or format character, plus the controls that are not line breaks.
INVISIBLE = sorted(
    {chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"}
    | set(ATTACK)
    | {chr(c) for c in (0x115F, 0x1160, 0x3164, 0xFFA0, *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0))}
    | {chr(c) for c in range(0x20) if chr(c) not in "\t\n\r\x0b\x0c\x1c\x1d\x1e"}
)
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
SPACES = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Zs"] + ["\t"]


def _in_every_word(text: str, ch: str) -> str:
    return " ".join(w[:1] + ch + w[1:] for w in text.split(" "))


@pytest.mark.parametrize("ch", list(ATTACK))
def test_invisible_character_in_every_word_is_removed(ch):
    assert normalize_sentence(_in_every_word(SENTENCE, ch)) == SENTENCE
    nfd = unicodedata.normalize("NFD", SENTENCE)
    assert normalize_sentence(_in_every_word(nfd, ch)) == SENTENCE


def test_every_format_and_ignorable_character_is_removed():
    kept = [f"U+{ord(c):04X}" for c in INVISIBLE if normalize_text(f"a{c}b") != "ab"]
    assert not kept


def test_line_and_paragraph_separators_are_line_breaks_and_spaces_fold():
    for br in LINE_BREAKS:
        assert normalize_text(f"Dòng một{br}dòng hai") == "Dòng một\ndòng hai", repr(br)
        assert normalize_sentence(f"Dòng một{br}dòng hai") == "Dòng một dòng hai", repr(br)
    for sp in SPACES:
        assert normalize_sentence(f"kết{sp}{sp}nạp") == "kết nạp", repr(sp)


def test_language_check_sees_through_invisible_characters():
    text = " ".join(TINY_SENTENCES[:4])
    assert is_vietnamese(_in_every_word(text, "\u200e"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.sampled_from(TINY_SENTENCES[:6] + [SENTENCE]),
    st.lists(st.tuples(st.integers(0, 200), st.sampled_from(INVISIBLE)), min_size=1, max_size=30),
    st.booleans(),
)
def test_invisible_insertions_never_change_tokens_or_labels(tiny_tagger, sentence, inserts, nfd):
    """Property (issue 12): inserting invisible characters anywhere, in NFC or NFD text, changes neither
    the token ids the tagger sees nor its labels and scores."""
    attacked = unicodedata.normalize("NFD", sentence) if nfd else sentence
    for pos, ch in sorted(inserts, reverse=True):
        pos %= len(attacked) + 1
        attacked = attacked[:pos] + ch + attacked[pos:]
    clean, dirty = tiny_tagger.encoder.tokenize([sentence]), tiny_tagger.encoder.tokenize([attacked])
    assert dirty["input_ids"].tolist() == clean["input_ids"].tolist()
    a, b = tiny_tagger.predict([sentence, attacked])
    assert a.labels == b.labels and a.scores == b.scores


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(TINY_SENTENCES[:6]), st.lists(st.sampled_from(SPACES + list(LINE_BREAKS)), min_size=1))
def test_any_whitespace_between_words_never_changes_labels(tiny_tagger, sentence, seps):
    """Line/paragraph separators are visible line breaks, so they are tested where whitespace goes."""
    words = sentence.split(" ")
    attacked = words[0] + "".join(seps[i % len(seps)] + w for i, w in enumerate(words[1:]))
    assert tiny_tagger.predict(attacked).scores == tiny_tagger.predict(sentence).scores
