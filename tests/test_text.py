"""Danish normalisation: what a member types without a Danish keyboard still matches."""

from __future__ import annotations

from bot.text import CompoundSplitter, content_words, fold, skeleton, spoken_words, stem, words


def test_fold_casefolds_and_spells_out_danish_letters() -> None:
    assert fold("PÅRØRENDE Ærø") == "paaroerende aeroe"


def test_fold_drops_invisible_and_accents() -> None:
    assert fold("på\u200brørende") == "paaroerende"
    assert fold("café\u202e") == "cafe"


def test_three_spellings_of_one_word_meet() -> None:
    assert words("pårørende") == words("paaroerende") == words("parorende")


def test_ae_oe_aa_spellings_meet() -> None:
    assert words("Sundhedsvæsenet børn åben") == words("sundhedsvaesenet boern aaben")


def test_punctuation_is_ignored() -> None:
    assert words("Oslo-standarden?!") == ["oslo", "standarden"]


def test_stemming_joins_inflections() -> None:
    assert stem(skeleton(fold("anbefalinger"))) == stem(skeleton(fold("anbefaling")))
    assert stem(skeleton(fold("vejledere"))) == stem(skeleton(fold("vejleder")))


def test_stopwords_go_but_question_words_and_negation_stay() -> None:
    kept = content_words("hvad er det, der ikke virker for de pårørende")
    assert "hvad" in kept and "ikke" in kept
    assert "er" not in kept and "de" not in kept


def test_compound_is_split_into_known_parts() -> None:
    splitter = CompoundSplitter({"parorende", "vejleder", "psykiatri", "rad"})
    assert splitter.split("parorendevejleder") == ("parorende", "vejleder")
    assert splitter.split("psykiatrirad") == ("psykiatri", "rad")


def test_compound_with_linking_s() -> None:
    splitter = CompoundSplitter({"sundhed", "rad"})
    assert splitter.split("sundhedsrad") == ("sundhed", "rad")


def test_unknown_word_is_not_split() -> None:
    splitter = CompoundSplitter({"parorende", "vejleder"})
    assert splitter.split("fodboldkamp") == ()


def test_numbers_said_in_words_read_as_digits() -> None:
    # as a phone writes what a member says to it
    assert spoken_words("tredive dage") == ["30", "dage"]
    assert spoken_words("femogtyve procent") == ["25", "procent"]
    assert spoken_words("belægningen i tyve atten") == words("belægningen i 2018")
    assert spoken_words("to tusind og toogtyve") == ["2022"]
    assert spoken_words("nitten halvfems") == ["1990"]


def test_small_numbers_and_articles_stay_words() -> None:
    # "en" and "et" are articles; "ti" is how the documents write ten, also in "tiårsplan"
    assert spoken_words("en af os") == ["en", "af", "os"]
    assert spoken_words("over ti år med tre forslag") == words("over ti år med tre forslag")
